export function targetSource(i: number): string;
export function livepatchSource(k: number): string;
