/** The errno values the simulated kernel returns, with the text modprobe prints for them. */
export const ENOENT = 2;
export const ENOEXEC = 8;
const ENODEV = 19;
export const EINVAL = 22;
export const EBUSY = 16;
export const EEXIST = 17;
export const ENOMEM = 12;
export const EINTR = 4;

const MESSAGES: Record<number, string> = {
  [ENOENT]: 'No such file or directory',
  [ENOEXEC]: 'Exec format error',
  [ENODEV]: 'No such device',
  [EINVAL]: 'Invalid argument',
  [EBUSY]: 'Device or resource busy',
  [EEXIST]: 'File exists',
  [ENOMEM]: 'Cannot allocate memory',
  [EINTR]: 'Interrupted system call',
};

export function strerror(errno: number): string {
  return MESSAGES[Math.abs(errno)] ?? `Unknown error ${Math.abs(errno)}`;
}
