import { createHash } from 'node:crypto';

/** The sha256 a manifest records for a generated file, over its bytes. */
export function contentHash(content: Buffer | Uint8Array): string {
  return createHash('sha256').update(content).digest('hex');
}
