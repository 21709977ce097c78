import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * Who may do what. A read-write token (main's CI jobs) may store records;
 * a read-only token (pull requests' jobs) may only fetch them: a job that
 * runs code from a pull request cannot plant outputs that main later
 * restores (CVE-2025-36852, "CREEP"). Without tokens the server only runs
 * when told to (`insecure`), and then everyone may read and write.
 */
export interface AccessTokens {
  read?: string;
  write?: string;
  /** No tokens: every client may read and write (a trusted network only). */
  insecure?: boolean;
}

export type Access = 'none' | 'read' | 'write';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

function same(got: Buffer, token: string | undefined): boolean {
  // Compared as digests: equal lengths, so the comparison time says nothing about the token.
  return token !== undefined && timingSafeEqual(got, digest(token));
}

/** The access a request's `Authorization: Bearer <token>` grants. */
export function accessOf(headers: IncomingHttpHeaders, tokens: AccessTokens): Access {
  if (tokens.insecure) return 'write';
  const m = /^Bearer (.+)$/.exec(headers.authorization ?? '');
  if (!m) return 'none';
  const got = digest(m[1]!);
  if (same(got, tokens.write)) return 'write';
  if (same(got, tokens.read)) return 'read';
  return 'none';
}

/** A usage problem with the configured tokens, or undefined. */
export function tokensProblem(tokens: AccessTokens): string | undefined {
  if (tokens.insecure && (tokens.read || tokens.write)) return '--insecure-no-auth and an access token exclude each other';
  if (!tokens.insecure && !tokens.read && !tokens.write) return 'no access token: set KLP_SPLIT_CACHE_WRITE_TOKEN (jobs of main) and KLP_SPLIT_CACHE_READ_TOKEN (jobs of pull requests), or pass --insecure-no-auth on a trusted network';
  if (tokens.read && tokens.read === tokens.write) return 'the read-only and the read-write token are the same: a job holding the read token could write';
  return undefined;
}
