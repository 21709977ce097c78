export function targetSource(i: number): string;
export function livepatchSource(k: number): string;
export function dependentTargetSource(i: number): string;
export function dependentLivepatchSource(k: number): string;
