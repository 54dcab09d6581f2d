import type { RttErrorCode } from './types';

/**
 * The one error class of passive-rtt. `code` is stable; the message names the
 * cause and the fix and may change between versions.
 */
export class RttError extends Error {
  readonly code: RttErrorCode;

  constructor(code: RttErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RttError';
    this.code = code;
  }
}

export function isRttError(err: unknown): err is RttError {
  return err instanceof RttError;
}
