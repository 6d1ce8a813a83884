// Every parity handler, in detection order. Append yours: one import line and one array entry line.
import type { ParityHandler } from '../types.js';

export const HANDLERS: ParityHandler[] = [];
