/** The signalling channel is shared with the browser SDK (src/client-sdk/core); Node passes the `ws` WebSocket. */
export { SignalChannel, RequestError, type SignalChannelOptions } from '../core/SignalChannel.ts';
