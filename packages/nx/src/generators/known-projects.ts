import { basename, dirname } from 'node:path';
import { getProjects, glob, readJson, type Tree } from '@nx/devkit';
import { LIVEPATCH_MARKER, MODULE_MARKER } from '../plugin/markers.js';

/** Project names the plugin and the CLI's paths handle without quoting. */
export const PROJECT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** A kernel module source file: its name becomes the module's name. */
export const SOURCE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]*\.c$/;

/** Names of every project in the tree, with the module projects' names apart. */
export function knownProjects(tree: Tree): { all: Set<string>; modules: Set<string> } {
  const nameOf = (marker: string): string => {
    const j = readJson<{ name?: unknown }>(tree, marker);
    return typeof j.name === 'string' ? j.name : basename(dirname(marker));
  };
  const modules = new Set(glob(tree, [`**/${MODULE_MARKER}`]).map(nameOf));
  const livepatches = glob(tree, [`**/${LIVEPATCH_MARKER}`]).map(nameOf);
  return { all: new Set([...getProjects(tree).keys(), ...modules, ...livepatches]), modules };
}
