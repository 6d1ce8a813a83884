// Environment probes for the hub code (internal: not exported from the package).

export const isNode = typeof process !== 'undefined' && !!process.versions?.node;

/** An environment variable in Node; undefined elsewhere (and for empty values). */
export function envVar(name: string): string | undefined {
  return isNode ? process.env[name] || undefined : undefined;
}
