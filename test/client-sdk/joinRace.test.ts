/**
 * What the server says right after answering `join` reaches the client. The client object exists only once the
 * Device has loaded (tens of ms in a browser), and notifications that arrived in between were dropped: a peer that
 * joined or published in that window was never seen (the browser e2e saw it as a tile that never got its tracks, and a
 * peer missing from the interpreter's list). The socket here holds the join response back until the server has also
 * sent a later notification, then hands both over in one go, so the notification lands while the Device loads.
 * Held notifications must not be overtaken by a later response either: a caller reacting to that response would
 * then see an older notification as news.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignalChannel, type WebSocketLike } from '../../src/client-sdk/core/index.ts';
import { LipsyncClient } from '../../src/client-sdk/node/index.ts';
import type { LipsyncServer } from '../../src/sfu/index.ts';
import { startTestServer, waitFor } from '../sfu/helpers.ts';

type MessageListener = (ev: { data: unknown }) => void;

/** A `ws` socket that delays the join response until `release()`, queueing what follows it behind it. */
function heldSocket(url: string) {
  const ws = new WebSocket(url);
  const listeners: MessageListener[] = [];
  let holding = true;
  let joinAnswered = false;
  const queue: string[] = [];
  const deliver = (text: string) => {
    for (const l of listeners) l({ data: text });
  };
  ws.on('message', (data: Buffer) => {
    const text = data.toString();
    if (!joinAnswered && (JSON.parse(text) as { type?: string }).type === 'response') joinAnswered = true;
    if (holding && joinAnswered) queue.push(text);
    else deliver(text);
  });
  const socket: WebSocketLike = {
    get readyState() {
      return ws.readyState;
    },
    send: (d) => ws.send(d),
    close: (code, reason) => ws.close(code, reason),
    addEventListener: ((type: string, listener: (ev: never) => void) => {
      if (type === 'message') listeners.push(listener as unknown as MessageListener);
      else ws.addEventListener(type as 'open', listener as never);
    }) as WebSocketLike['addEventListener'],
  };
  return {
    socket,
    queued: () => queue.length,
    /** Hands the join response and everything after it over synchronously, in order (or the response last). */
    release(responseLast = false) {
      holding = false;
      const frames = queue.splice(0);
      if (responseLast) frames.push(frames.shift()!);
      for (const text of frames) deliver(text);
    },
  };
}

describe('joining while others join', () => {
  let server: LipsyncServer;
  const clients: LipsyncClient[] = [];

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(() => {
    for (const c of clients) c.close();
    server?.close();
  });

  /** `late` joins through a held socket; `other` joins meanwhile; both frames are then handed over at once. */
  async function joinBesideAnother(room: string, responseLast: boolean) {
    const held = heldSocket(server.wsUrl);
    const joining = LipsyncClient.join({
      url: server.wsUrl,
      token: server.mintToken(room, 'late'),
      createWebSocket: () => held.socket,
    });
    await waitFor(() => held.queued() === 1, 5000); // the join answer, held
    clients.push(await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken(room, 'other') }));
    await waitFor(() => held.queued() === 2, 5000); // ... and the peerJoined behind it
    held.release(responseLast);
    const late = await joining;
    clients.push(late);
    return late;
  }

  it('sees a peer that joined between its join answer and its Device load', async () => {
    const late = await joinBesideAnother('race', false);
    const seen: string[] = [];
    late.on('peer', (p) => seen.push(p.peerId));
    await waitFor(() => late.peers.has('other'), 2000);
    expect(seen).toEqual(['other']);
    expect([...late.peers.keys()]).toEqual(['other']);
  });

  // Peers entering together: the server can notify this peer of the next one before its own join answer is sent.
  it('joins and sees a peer whose peerJoined arrives before its join answer', async () => {
    const late = await joinBesideAnother('race2', true);
    await waitFor(() => late.peers.has('other'), 2000);
    expect([...late.peers.keys()]).toEqual(['other']);
  });
});

describe('SignalChannel.hold', () => {
  /** A socket the test plays the server on: `serve` delivers frames, `sent` has what the channel sent. */
  function scriptedSocket() {
    const listeners: Record<string, ((ev: never) => void)[]> = {};
    const sent: { id: number }[] = [];
    const socket: WebSocketLike = {
      readyState: 1,
      send: (d) => sent.push(JSON.parse(d) as { id: number }),
      close: () => {},
      addEventListener: ((type: string, l: (ev: never) => void) => {
        (listeners[type] ??= []).push(l);
        if (type === 'open') queueMicrotask(() => l(undefined as never));
      }) as WebSocketLike['addEventListener'],
    };
    const serve = (frame: unknown) => {
      for (const l of listeners.message ?? []) l({ data: JSON.stringify(frame) } as never);
    };
    return { socket, sent, serve };
  }

  it('keeps a response behind a notification the server sent before it, until release', async () => {
    const { socket, sent, serve } = scriptedSocket();
    const channel = await SignalChannel.connect('ws://test', { createWebSocket: () => socket });
    const order: string[] = [];
    channel.onNotification = (m) => order.push(`notification ${m.method}`);
    const early = channel.request('stopInterpreting', { speakerPeerId: 'a', language: 'fr' });
    serve({
      type: 'response',
      id: sent[0]!.id,
      ok: true,
      data: { speakerPeerId: 'a', language: 'fr', interpreterPeerId: 'b' },
    });
    await early; // nothing held yet: a response before any notification passes
    channel.hold();
    const later = channel
      .request('stopInterpreting', { speakerPeerId: 'a', language: 'fr' })
      .then(() => order.push('response'));
    serve({ type: 'notification', method: 'languages', data: { languages: ['fr'] } });
    serve({
      type: 'response',
      id: sent[1]!.id,
      ok: true,
      data: { speakerPeerId: 'a', language: 'fr', interpreterPeerId: 'b' },
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(order).toEqual([]);
    channel.release();
    await later;
    expect(order).toEqual(['notification languages', 'response']);
    serve({ type: 'notification', method: 'languages', data: { languages: [] } }); // released: at once
    expect(order).toHaveLength(3);
    channel.close();
  });
});
