/**
 * Bad signalling input against a real server: each gets its own error, nothing leaks (router dumps), and the server
 * keeps serving the other peers. Plus a worker killed under a room.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MediaStreamTrack } from 'werift';
import { LipsyncClient, RequestError } from '../../src/client-sdk/node/index.ts';
import { MAX_MESSAGE_BYTES, PROTOCOL_VERSION } from '../../src/protocol/index.ts';
import { mintToken, type LipsyncServer } from '../../src/sfu/index.ts';
import { errorCode, RawPeer, sleep, startTestServer, TEST_SECRET, waitFor } from './helpers.ts';

async function transportCount(server: LipsyncServer, roomId: string): Promise<number> {
  const room = server.rooms.get(roomId);
  return room ? (await room.router.dump()).transportIds.length : 0;
}

describe('signalling robustness', () => {
  let server: LipsyncServer;
  let bystander: LipsyncClient;

  beforeAll(async () => {
    server = await startTestServer({ autoCreateRooms: false });
    await server.createRoom('r1');
    // A well-behaved peer that must keep being served while others misbehave.
    bystander = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken('r1', 'bystander') });
  });

  afterAll(() => {
    bystander?.close();
    server?.close();
  });

  it('answers malformed, oversized, unknown and out-of-order messages with errors', async () => {
    const raw = await RawPeer.open(server.wsUrl);
    expect(errorCode(await raw.send('{not json'))).toBe('badJson');
    expect(errorCode(await raw.send('"x".repeat'))).toBe('badJson');
    expect(errorCode(await raw.send(JSON.stringify({ hello: 1 })))).toBe('badRequest');
    expect(errorCode(await raw.send('x'.repeat(MAX_MESSAGE_BYTES + 10)))).toBe('tooLarge');
    expect(errorCode(await raw.request(1, 'teleport', {}))).toBe('unknownMethod');
    expect(errorCode(await raw.request(2, 'createTransport', { direction: 'send' }))).toBe('badState');
    expect(errorCode(await raw.request(3, 'createTransport', { direction: 7 }))).toBe('badRequest');
    expect(errorCode(await raw.request(4, 'join', { protocolVersion: 99, token: 'x' }))).toBe('versionMismatch');
    // Binary frames are not part of the protocol.
    const from = raw.messages.length;
    raw.ws.send(Buffer.from([1, 2, 3]));
    await waitFor(() => raw.messages.length > from, 3000, 'binary frame error');
    expect(errorCode(raw.messages[from]!)).toBe('badRequest');
    expect(raw.closed).toBeUndefined();
    raw.close();
  });

  it('rejects wrong, forged, expired tokens and unknown rooms', async () => {
    const raw = await RawPeer.open(server.wsUrl);
    const join = (id: number, token: string) => raw.request(id, 'join', { protocolVersion: PROTOCOL_VERSION, token });
    expect(errorCode(await join(1, 'v1.garbage'))).toBe('unauthorized');
    const otherSecret = mintToken('some-other-secret-entirely', { room: 'r1', peer: 'p' });
    expect(errorCode(await join(2, otherSecret))).toBe('unauthorized');
    const expired = mintToken(TEST_SECRET, { room: 'r1', peer: 'p', ttlMs: 1, nowMs: Date.now() - 10_000 });
    expect(errorCode(await join(3, expired))).toBe('tokenExpired');
    expect(errorCode(await join(4, server.mintToken('no-such-room', 'p')))).toBe('notFound');
    // After all that, a good token still joins on the same socket.
    const ok = await join(5, server.mintToken('r1', 'late'));
    expect(ok.ok).toBe(true);
    expect(errorCode(await join(6, server.mintToken('r1', 'late')))).toBe('badState');
    raw.close();
  });

  it('answers unknown ids with notFound and invalid parameters with badRequest, leaking nothing', async () => {
    const raw = await RawPeer.open(server.wsUrl);
    await raw.request(1, 'join', { protocolVersion: PROTOCOL_VERSION, token: server.mintToken('r1', 'prober') });
    const before = await transportCount(server, 'r1');
    expect(errorCode(await raw.request(2, 'connectTransport', { transportId: 'nope', dtlsParameters: {} }))).toBe(
      'notFound',
    );
    expect(errorCode(await raw.request(3, 'resume', { consumerId: 'nope' }))).toBe('notFound');
    expect(errorCode(await raw.request(4, 'closeProducer', { producerId: 'nope' }))).toBe('notFound');
    expect(errorCode(await raw.request(5, 'setDubLanguage', { speakerPeerId: 'ghost', language: 'fr' }))).toBe(
      'notFound',
    );
    const t = await raw.request(6, 'createTransport', { direction: 'recv' });
    const transportId = (t.data as { transportId: string }).transportId;
    expect(await transportCount(server, 'r1')).toBe(before + 1);
    const caps = server.rooms.get('r1')!.router.rtpCapabilities;
    expect(errorCode(await raw.request(7, 'consume', { transportId, producerId: 'nope', rtpCapabilities: caps }))).toBe(
      'notFound',
    );
    expect(
      errorCode(
        await raw.request(8, 'produce', { transportId, kind: 'audio', rtpParameters: { codecs: [], encodings: [] } }),
      ),
    ).toBe('badState'); // a receive transport cannot produce
    expect(
      errorCode(await raw.request(9, 'connectTransport', { transportId, dtlsParameters: { fingerprints: 'x' } })),
    ).toBe('badRequest');
    raw.close();
    await waitFor(async () => (await transportCount(server, 'r1')) === before, 3000, 'transport cleanup');
  });

  it('cleans up a peer that disconnects mid-negotiation', async () => {
    const before = await transportCount(server, 'r1');
    const raw = await RawPeer.open(server.wsUrl);
    await raw.request(1, 'join', { protocolVersion: PROTOCOL_VERSION, token: server.mintToken('r1', 'quitter') });
    // Fire a request and vanish before its answer.
    raw.ws.send(JSON.stringify({ type: 'request', id: 2, method: 'createTransport', data: { direction: 'send' } }));
    raw.ws.send(JSON.stringify({ type: 'request', id: 3, method: 'createTransport', data: { direction: 'recv' } }));
    raw.ws.terminate();
    await sleep(300);
    await waitFor(async () => (await transportCount(server, 'r1')) === before, 3000, 'no leaked transports');
    expect(server.rooms.get('r1')!.peers.has('quitter')).toBe(false);
  });

  it('keeps serving the well-behaved peer', async () => {
    const { rtpCapabilities } = await bystander.signal.request('getRouterRtpCapabilities', {});
    expect(rtpCapabilities.codecs?.length).toBeGreaterThan(0);
    await expect(bystander.signal.request('resume', { consumerId: 'nope' })).rejects.toBeInstanceOf(RequestError);
    expect(bystander.closed).toBe(false);
  });
});

describe('rooms and taps', () => {
  it('advertises dub languages and checks the choice of a listener against them', async () => {
    const server = await startTestServer({ languages: ['fr', 'es'] });
    try {
      const speaker = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken('l', 'speaker') });
      const listener = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken('l', 'listener') });
      expect(listener.languages).toEqual(['fr', 'es']);
      await listener.setDubLanguage('speaker', 'fr');
      expect(server.rooms.get('l')!.peers.get('listener')!.dubLanguages.get('speaker')).toBe('fr');
      await expect(listener.setDubLanguage('speaker', 'de')).rejects.toMatchObject({ code: 'unsupported' });
      await listener.setDubLanguage('speaker', null);
      expect(server.rooms.get('l')!.peers.get('listener')!.dubLanguages.size).toBe(0);
      const changed = new Promise<string[]>((resolve) => speaker.on('languages', resolve));
      server.rooms.get('l')!.setLanguages(['fr', 'es', 'de']);
      expect(await changed).toEqual(['fr', 'es', 'de']);
      speaker.close();
      listener.close();
    } finally {
      server.close();
    }
  });

  it('drops a socket that stops answering pings', async () => {
    const server = await startTestServer({ heartbeatMs: 100 });
    try {
      const raw = await RawPeer.open(server.wsUrl);
      await raw.request(1, 'join', { protocolVersion: PROTOCOL_VERSION, token: server.mintToken('hb', 'mute') });
      // Simulate a vanished client: stop reading the socket, so pings go unanswered.
      raw.ws.pause();
      await waitFor(() => !server.rooms.get('hb')?.peers.has('mute'), 3000, 'the silent peer to be dropped');
      raw.close();
    } finally {
      server.close();
    }
  });

  it('spreads rooms over the workers', async () => {
    const server = await startTestServer({ numWorkers: 2 });
    try {
      const a = await server.createRoom('a');
      const b = await server.createRoom('b');
      expect(a.worker.pid).not.toBe(b.worker.pid);
    } finally {
      server.close();
    }
  });

  it('keeps the original producer when the processor cannot be built, and replaces a rejoining peer', async () => {
    const server = await startTestServer({
      processorFactory: () => Promise.reject(new Error('no model today')),
    });
    try {
      const speaker = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken('r', 'speaker') });
      const listener = await LipsyncClient.join({
        url: server.wsUrl,
        token: server.mintToken('r', 'listener'),
        subscribe: 'original',
      });
      const tracks: string[] = [];
      listener.on('track', (t) => tracks.push(t.source));
      const tapErrors: Error[] = [];
      await speaker.publish(new MediaStreamTrack({ kind: 'audio' }));
      await waitFor(() => server.rooms.get('r')!.taps.has('speaker'), 3000, 'the tap');
      server.rooms
        .get('r')!
        .taps.get('speaker')!
        .on('error', (e) => tapErrors.push(e));
      await waitFor(() => tracks.length === 1, 5000, 'the original track');
      await waitFor(() => tapErrors.length === 1, 3000, 'the tap error');
      expect(tracks).toEqual(['original']);
      expect([...server.rooms.get('r')!.producers.values()].map((p) => p.info.source)).toEqual(['original']);

      // The same peer id joins again: the old connection is closed, the room keeps one 'listener'.
      const closed = new Promise<string>((resolve) => listener.on('close', resolve));
      const again = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken('r', 'listener') });
      expect(await closed).toBe('replaced');
      expect(server.rooms.get('r')!.peers.size).toBe(2);
      again.close();
      speaker.close();
    } finally {
      server.close();
    }
  });
});

describe('worker death', () => {
  it('closes the rooms on a killed worker, tells their peers, and serves new rooms on a replacement', async () => {
    const server = await startTestServer();
    try {
      const client = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken('doomed', 'p1') });
      const closed = new Promise<string>((resolve) => client.on('close', resolve));
      const room = server.rooms.get('doomed')!;
      const pid = room.worker.pid;
      const respawned = new Promise<number>((resolve) => server.pool.once('workerspawned', resolve));
      process.kill(pid, 'SIGKILL');
      expect(await closed).toBe('roomClosed:workerDied');
      expect(room.closed).toBe(true);
      expect(server.rooms.has('doomed')).toBe(false);
      const newPid = await respawned;
      expect(newPid).not.toBe(pid);
      const again = await LipsyncClient.join({ url: server.wsUrl, token: server.mintToken('doomed', 'p1') });
      expect(server.rooms.get('doomed')!.worker.pid).toBe(newPid);
      again.close();
    } finally {
      server.close();
    }
  });
});
