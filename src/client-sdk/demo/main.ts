/**
 * The demo page: join a room, publish the camera and microphone, see the participants, pick a dub language per
 * speaker, see which tracks are dubbed and the dub pipeline's health (fps, delay), see each language's source
 * (embedded translator, provider, or a live interpreter) and, with an interpreter or host grant, interpret.
 *
 * URL parameters (tests use them): `room`, `name`, `peer`, `autojoin=1`, `publish=0`, `subscribe=original|processed`,
 * `consentDub=0`, `consentFace=0`, `interpret=fr,de` (the demo token grants interpreting into these), `host=1` (the
 * demo token grants host: assign anyone). The page keeps its state on `window.demo` for tests and curious users.
 * When the chosen (speaker, language) is held by another interpreter (the room's offers say so, or Start was refused
 * with `badState`), the Interpret box offers "Take over from X": a booth relay (`startInterpreting` with `takeOver`).
 *
 * Switching a speaker to a dub (or back) never blanks the picture: each tile has two <video> elements, the new
 * stream starts in the hidden one and the two swap once it has drawn its first frame.
 */
import {
  captureCameraAndMicrophone,
  DubLipSync,
  LipsyncClient,
  RequestError,
  type DubStats,
  type LanguageOffer,
  type SpeakerView,
  type SubscribePolicy,
} from '../browser/index.ts';

interface Tile {
  peerId: string;
  root: HTMLDivElement;
  videos: [HTMLVideoElement, HTMLVideoElement];
  /** Index of the visible element. */
  front: 0 | 1;
  badge: HTMLSpanElement;
  select: HTMLSelectElement;
  health: HTMLDivElement;
  view: SpeakerView | undefined;
  stats: DubStats | undefined;
  /** Changes of the visible stream, for tests (time, language). */
  swaps: { atMs: number; language: string | null }[];
}

interface DemoState {
  client: LipsyncClient | undefined;
  lipSync?: DubLipSync;
  tiles: Map<string, Tile>;
  errors: string[];
  log: string[];
  join(): Promise<void>;
  leave(): void;
  setDub(peerId: string, language: string | null): Promise<unknown>;
  /**
   * Start / stop interpreting a speaker (`*`: the floor) into a language, as this peer; `takeOver` relays the
   * interpreter holding it.
   */
  interpret(speakerPeerId: string, language: string, takeOver?: boolean): Promise<unknown>;
  stopInterpreting(speakerPeerId: string, language: string): Promise<unknown>;
}

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const params = new URLSearchParams(location.search);
/** The (speaker, language) whose Start was refused with `badState` (held by someone else): offer taking it over. */
let refusedPair: string | null = null;

const state: DemoState = {
  client: undefined,
  tiles: new Map(),
  errors: [],
  log: [],
  join,
  leave,
  setDub,
  interpret,
  stopInterpreting,
};
(window as unknown as { demo: DemoState }).demo = state;

function log(line: string): void {
  const text = `${new Date().toISOString().slice(11, 23)} ${line}`;
  state.log.push(text);
  const el = $('log');
  el.textContent = state.log.slice(-50).join('\n');
  el.scrollTop = el.scrollHeight;
}

function showError(err: unknown): void {
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  state.errors.push(message);
  $('status').textContent = message;
  log(`error: ${message}`);
}

for (const [id, key] of [
  ['room', 'room'],
  ['name', 'name'],
] as const) {
  const v = params.get(key);
  if (v) $<HTMLInputElement>(id).value = v;
}
if (params.get('publish') === '0') $<HTMLInputElement>('publish').checked = false;
if (params.get('consentDub') === '0') $<HTMLInputElement>('consentDub').checked = false;
if (params.get('consentFace') === '0') $<HTMLInputElement>('consentFace').checked = false;

$('join').addEventListener('click', () => void join());
$('leave').addEventListener('click', () => leave());
$('interpretStart').addEventListener('click', () => {
  const speaker = $<HTMLSelectElement>('interpretSpeaker').value;
  const language = $<HTMLSelectElement>('interpretLanguage').value;
  if (speaker && language) void interpret(speaker, language).catch(() => {});
});
$('interpretTakeOver').addEventListener('click', () => {
  const speaker = $<HTMLSelectElement>('interpretSpeaker').value;
  const language = $<HTMLSelectElement>('interpretLanguage').value;
  if (speaker && language) void interpret(speaker, language, true).catch(() => {});
});
for (const id of ['interpretSpeaker', 'interpretLanguage']) $(id).addEventListener('change', () => showTakeOver());
$('interpretStop').addEventListener('click', () => {
  const speaker = $<HTMLSelectElement>('interpretSpeaker').value;
  const language = $<HTMLSelectElement>('interpretLanguage').value;
  if (speaker && language) void stopInterpreting(speaker, language).catch(() => {});
});

async function join(): Promise<void> {
  if (state.client) return;
  $<HTMLButtonElement>('join').disabled = true;
  try {
    const room = $<HTMLInputElement>('room').value.trim() || 'demo';
    const name = $<HTMLInputElement>('name').value.trim();
    const q = new URLSearchParams({ room });
    const peer = params.get('peer');
    if (peer) q.set('peer', peer);
    if (name) q.set('name', name);
    for (const key of ['interpret', 'host']) {
      const v = params.get(key);
      if (v) q.set(key, v);
    }
    const res = await fetch(`/token?${q.toString()}`);
    const body = (await res.json()) as { token?: string; error?: string };
    if (!res.ok || !body.token) throw new Error(body.error ?? `token request failed (${res.status})`);
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    const subscribe = (params.get('subscribe') ?? 'processed') as SubscribePolicy;
    const client = await LipsyncClient.join({
      url,
      token: body.token,
      subscribe,
      ...(name ? { displayName: name } : {}),
    });
    state.client = client;
    // Fine A/V sync of dubbed views (see DubLipSync); `lipsync=0` leaves it to the browser alone.
    if (params.get('lipsync') !== '0') state.lipSync = new DubLipSync(client);
    log(`joined ${client.roomId} as ${client.peerId}`);
    wire(client);
    showLanguages(client.languages, client.languageOffers);
    showInterpretForm();
    $<HTMLButtonElement>('leave').disabled = false;
    const consent = {
      dub: $<HTMLInputElement>('consentDub').checked,
      faceRendering: $<HTMLInputElement>('consentFace').checked,
    };
    if (!consent.dub || !consent.faceRendering) await client.setDubConsent(consent);
    if ($<HTMLInputElement>('publish').checked) {
      const { stream, audio, video } = await captureCameraAndMicrophone();
      $('selfTile').hidden = false;
      $<HTMLVideoElement>('selfVideo').srcObject = stream;
      if (video) await client.publish(video, { appData: { source: 'camera' } });
      if (audio) await client.publish(audio, { appData: { source: 'microphone' } });
      log('publishing camera and microphone');
    }
  } catch (err) {
    showError(err);
    $<HTMLButtonElement>('join').disabled = false;
  }
}

function leave(): void {
  state.client?.close();
}

function wire(client: LipsyncClient): void {
  client.on('peer', (p) => {
    tileFor(p.peerId, p.displayName);
    log(`peer ${p.peerId} in the room`);
    showParticipants();
    showInterpretForm();
  });
  client.on('peerleft', (peerId) => {
    const tile = state.tiles.get(peerId);
    tile?.root.remove();
    state.tiles.delete(peerId);
    log(`peer ${peerId} left`);
    showParticipants();
    showInterpretForm();
  });
  client.on('speakerview', (view) => void showView(view));
  client.on('languages', (languages, offers) => showLanguages(languages, offers));
  client.on('dubstats', (s) => {
    const tile = state.tiles.get(s.speakerPeerId);
    if (!tile) return;
    tile.stats = s;
    const trim = state.lipSync?.stateOf(s.speakerPeerId);
    tile.health.textContent =
      `${s.language}: ${s.fps.toFixed(1)} fps, delay ${Math.round(s.delayMs)} ms, ` +
      `${s.faceRendering ? 'face re-rendered' : 'voice only'}, ${s.segments} segments` +
      (trim && (trim.addedMs.audio || trim.addedMs.video)
        ? `, lip sync +${Math.round(trim.addedMs.audio)} ms audio / +${Math.round(trim.addedMs.video)} ms video`
        : '');
  });
  client.on('dubended', (e) => {
    log(`dub ${e.language} of ${e.speakerPeerId} ended: ${e.reason}`);
    const tile = state.tiles.get(e.speakerPeerId);
    if (!tile) return;
    tile.select.value = '';
    // The client is back on the original by itself: the dub's health line would be stale; say why it ended instead.
    tile.stats = undefined;
    tile.health.textContent = `${e.language} dub ended: ${e.reason}`;
  });
  client.on('error', (err) => showError(err));
  client.on('close', (reason) => {
    log(`left (${reason})`);
    state.client = undefined;
    state.lipSync?.close();
    delete state.lipSync;
    for (const t of state.tiles.values()) t.root.remove();
    state.tiles.clear();
    $<HTMLButtonElement>('join').disabled = false;
    $<HTMLButtonElement>('leave').disabled = true;
    $('interpretForm').hidden = true;
  });
}

function showParticipants(): void {
  const client = state.client;
  if (!client) return;
  const names = [`${client.peerId} (me)`, ...[...client.peers.values()].map((p) => p.displayName ?? p.peerId)];
  $('participants').textContent = names.join(', ');
}

function showLanguages(languages: string[], offers: LanguageOffer[]): void {
  refusedPair = null; // the list of who interprets what is fresh again: it says whom to take over from
  const describe = (o: LanguageOffer) => {
    const live = (o.interpreters ?? []).map(
      (i) => `${i.interpreterPeerId} for ${i.speakerPeerId === '*' ? 'the floor' : i.speakerPeerId}`,
    );
    return `${o.language} (${o.source}${live.length ? `; interpreters: ${live.join(', ')}` : ''})`;
  };
  $('languages').textContent = offers.length ? offers.map(describe).join(', ') : languages.join(', ') || 'none';
  for (const tile of state.tiles.values()) fillLanguages(tile.select, tile.peerId);
  showInterpretForm();
}

/** The languages this speaker can be heard in now, each with its source (an interpreter's name when live). */
function fillLanguages(select: HTMLSelectElement, speakerPeerId: string): void {
  const current = select.value;
  select.replaceChildren(new Option('original', ''));
  for (const l of state.client?.languagesFor(speakerPeerId) ?? []) {
    const source = l.interpreterPeerId ? `interpreter ${l.interpreterPeerId}` : l.source;
    select.add(new Option(`${l.language} (${source})`, l.language));
  }
  select.value = current;
}

/** The interpret controls, for a peer whose token grants interpreting (or host); hidden otherwise. */
function showInterpretForm(): void {
  const client = state.client;
  const grants = client?.grants ?? {};
  const languages = grants.host ? client!.languageOffers.map((o) => o.language) : (grants.interpret ?? []);
  $('interpretForm').hidden = !client || languages.length === 0;
  if (!client) return;
  const speakers = $<HTMLSelectElement>('interpretSpeaker');
  const speaker = speakers.value;
  speakers.replaceChildren(new Option('the floor (everyone)', '*'));
  for (const p of client.peers.values()) speakers.add(new Option(p.displayName ?? p.peerId, p.peerId));
  speakers.value = speaker || '*';
  const langSelect = $<HTMLSelectElement>('interpretLanguage');
  const language = langSelect.value;
  langSelect.replaceChildren(...languages.map((l) => new Option(l, l)));
  if (languages.includes(language)) langSelect.value = language;
  const mine = client.interpreters.filter((i) => i.interpreterPeerId === client.peerId);
  $('interpreting').textContent = mine.length
    ? `interpreting: ${mine.map((i) => `${i.speakerPeerId === '*' ? 'the floor' : i.speakerPeerId} -> ${i.language}`).join(', ')}`
    : '';
  showTakeOver();
}

/** "Take over from X" when the selected (speaker, language) is held by another interpreter (or Start was refused). */
function showTakeOver(): void {
  const client = state.client;
  const button = $<HTMLButtonElement>('interpretTakeOver');
  const speaker = $<HTMLSelectElement>('interpretSpeaker').value;
  const language = $<HTMLSelectElement>('interpretLanguage').value;
  const holder = client?.interpreters.find(
    (i) => i.speakerPeerId === speaker && i.language === language,
  )?.interpreterPeerId;
  const refused = refusedPair === `${speaker}\n${language}` && holder === undefined;
  button.hidden = !client || !((holder !== undefined && holder !== client.peerId) || refused);
  button.textContent = holder !== undefined ? `Take over from ${holder}` : 'Take over';
}

async function interpret(speakerPeerId: string, language: string, takeOver = false): Promise<unknown> {
  const client = state.client;
  if (!client) throw new Error('not joined');
  try {
    const holder = client.interpreters.find(
      (i) => i.speakerPeerId === speakerPeerId && i.language === language,
    )?.interpreterPeerId;
    const a = await client.startInterpreting(speakerPeerId, language, takeOver ? { takeOver } : {});
    const relayed = takeOver && holder !== undefined && holder !== client.peerId ? ` (took over from ${holder})` : '';
    log(`interpreting ${speakerPeerId} into ${language}: my audio is its ${language} dub${relayed}`);
    $('status').textContent = ''; // an earlier refusal (e.g. held by someone else) no longer applies
    refusedPair = null;
    showTakeOver();
    return a;
  } catch (err) {
    showError(err);
    // Someone else holds it: the box offers taking over (a booth relay).
    if (err instanceof RequestError && err.code === 'badState' && !takeOver) {
      refusedPair = `${speakerPeerId}\n${language}`;
      showTakeOver();
    }
    throw err;
  }
}

async function stopInterpreting(speakerPeerId: string, language: string): Promise<unknown> {
  const client = state.client;
  if (!client) throw new Error('not joined');
  try {
    const a = await client.stopInterpreting(speakerPeerId, language);
    log(`stopped interpreting ${speakerPeerId} into ${language}`);
    return a;
  } catch (err) {
    showError(err);
    throw err;
  }
}

function tileFor(peerId: string, displayName?: string): Tile {
  const existing = state.tiles.get(peerId);
  if (existing) return existing;
  const root = document.createElement('div');
  root.className = 'tile';
  root.dataset.peer = peerId;
  const head = document.createElement('div');
  const badge = document.createElement('span');
  badge.className = 'badge';
  badge.textContent = 'no media';
  const select = document.createElement('select');
  select.title = 'dub language';
  fillLanguages(select, peerId);
  head.append(`${displayName ?? peerId} `, badge, ' ', select);
  const screen = document.createElement('div');
  screen.className = 'screen';
  const videos: [HTMLVideoElement, HTMLVideoElement] = [
    document.createElement('video'),
    document.createElement('video'),
  ];
  for (const v of videos) {
    v.autoplay = true;
    v.playsInline = true;
    screen.append(v);
  }
  videos[1].className = 'hidden';
  videos[1].muted = true;
  const health = document.createElement('div');
  health.className = 'health';
  root.append(head, screen, health);
  $('tiles').append(root);
  const tile: Tile = {
    peerId,
    root,
    videos,
    front: 0,
    badge,
    select,
    health,
    view: undefined,
    stats: undefined,
    swaps: [],
  };
  select.addEventListener('change', () => void setDub(peerId, select.value || null));
  state.tiles.set(peerId, tile);
  return tile;
}

async function setDub(peerId: string, language: string | null): Promise<unknown> {
  const client = state.client;
  if (!client) throw new Error('not joined');
  const tile = state.tiles.get(peerId);
  if (tile) tile.select.value = language ?? '';
  try {
    const choice = await client.setDubLanguage(peerId, language);
    log(
      `dub of ${peerId}: ${language ?? 'original'}${choice.faceRendering ? '' : ' (voice only: speaker refused face re-rendering)'}`,
    );
    if (tile && language === null) tile.health.textContent = '';
    return choice;
  } catch (err) {
    showError(err);
    if (tile) tile.select.value = client.dubLanguageOf(peerId) ?? '';
    throw err;
  }
}

/** Plays the view's stream in the hidden element, then swaps once it has a frame (no blank picture). */
async function showView(view: SpeakerView): Promise<void> {
  const tile = tileFor(view.peerId);
  tile.view = view;
  const tracks: MediaStreamTrack[] = [];
  if (view.video) tracks.push(view.video.track);
  if (view.audio) tracks.push(view.audio.track);
  tile.badge.textContent = view.language ? `dubbed: ${view.language}` : tracks.length ? 'original' : 'no media';
  tile.badge.className = view.language ? 'badge dubbed' : 'badge';
  tile.root.dataset.language = view.language ?? '';
  const back = tile.videos[tile.front === 0 ? 1 : 0];
  const front = tile.videos[tile.front];
  back.srcObject = new MediaStream(tracks);
  back.muted = true;
  await back.play().catch(() => {});
  if (view.video) await firstFrame(back);
  if (tile.view !== view) return; // a newer view arrived meanwhile
  back.classList.remove('hidden');
  back.muted = false;
  front.classList.add('hidden');
  front.muted = true;
  tile.front = tile.front === 0 ? 1 : 0;
  tile.swaps.push({ atMs: performance.now(), language: view.language });
  // Let go of the old stream a moment later (the paused original stays subscribed in the client). Only that stream:
  // a view that arrives within the 500 ms (audio first, then video) is already loading into this element, and
  // clearing it then left the tile blank.
  const oldStream = front.srcObject;
  setTimeout(() => {
    if (front.srcObject === oldStream && tile.videos[tile.front] !== front) front.srcObject = null;
  }, 500);
}

function firstFrame(video: HTMLVideoElement): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 3000);
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    video.requestVideoFrameCallback(() => done());
    video.addEventListener('loadeddata', () => setTimeout(done, 100), { once: true });
  });
}

if (params.get('autojoin') === '1') void join();
