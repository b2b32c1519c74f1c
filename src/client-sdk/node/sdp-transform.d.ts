// sdp-transform ships no types; mediasoup-client (which depends on it) passes its objects through untyped.
declare module 'sdp-transform' {
  export interface MediaDescription {
    type: string;
    mid?: string | number;
    [key: string]: unknown;
  }
  export interface SessionDescription {
    media: MediaDescription[];
    extmapAllowMixed?: unknown;
    [key: string]: unknown;
  }
  export function parse(sdp: string): SessionDescription;
  export function write(session: SessionDescription): string;
}
