// How mediasoup-worker is built against Debian libraries (used by scripts/setup.d/10-mediasoup-worker.mjs).
// Everything that decides the binary lives in this folder: its files are hashed into the cache key, so changing any
// of them rebuilds the worker, and changing the step script alone (logging, locking) does not.

/** Arguments of `meson setup`, besides the build and source folders. */
export const mesonArgs = [
  '--buildtype=release',
  '-Db_ndebug=true',
  // Never fetch a wrap: every subproject is a stand-in from ./subprojects over a Debian library.
  '--wrap-mode=nodownload',
  // liburing is not in bookworm's main archive at the wrap's version; mediasoup runs fine on plain libuv.
  '-Dms_disable_liburing=true',
];

/** Wraps the worker declares but never configures on Linux with liburing disabled: no stand-in needed. */
export const unusedWraps = ['liburing', 'wingetopt'];

// Source changes applied to a COPY of node_modules/mediasoup/worker. Each is an exact text replacement that must
// match exactly once: a new mediasoup release that moves the text makes the build stop with a clear message instead
// of silently building something else.

/** @type {{ file: string, find: string, replace: string, why: string }[]} */
export const patches = [
  {
    file: 'meson.build',
    find: "meson_version: '>= 1.1.0',",
    replace: "meson_version: '>= 1.0.0',",
    why: "Debian bookworm's meson is 1.0.1; the build uses nothing newer",
  },
  {
    file: 'src/RTC/DtlsTransport.cpp',
    find: 'long resultOfcallback = (operationType == BIO_CB_RETURN) ? static_cast<long>(ret) : 1;',
    replace: 'long resultOfcallback = (operationType & BIO_CB_RETURN) ? static_cast<long>(ret) : 1;',
    why:
      'OpenSSL calls the BIO callback with BIO_CB_CTRL | BIO_CB_RETURN; with == the callback answers 1 to ' +
      'BIO_get_ktls_send() on a kTLS-enabled OpenSSL (Debian), which then never allocates its write buffer and ' +
      'the worker segfaults at the first DTLS handshake',
  },
];
