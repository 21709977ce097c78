import type { Tree } from '@nx/devkit';
import { KlpError } from '@klp-split/core';

/**
 * A generator as Nx runs it. Nx prints a generator's error as its message
 * (the first line as the title) and offers a stack trace when there is one:
 * a KlpError is shown as the command line shows it (`file: error: message
 * [code]` and its hint), without the offer; any other error is a defect of
 * klp-split and keeps its stack (nx g --verbose).
 */
export function generator<O, R>(work: (tree: Tree, options: O) => Promise<R>): (tree: Tree, options: O) => Promise<R> {
  return async (tree, options) => {
    try {
      return await work(tree, options);
    } catch (e) {
      if (!(e instanceof KlpError)) throw e;
      const shown = e.format();
      Object.defineProperty(e, 'message', { value: shown });
      e.stack = undefined;
      throw e;
    }
  };
}
