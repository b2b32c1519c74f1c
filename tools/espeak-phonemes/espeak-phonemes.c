/*
 * espeak-phonemes: synthesize UTF-8 text (stdin) with espeak-ng and report the exact timing of every phoneme in the
 * synthesized audio. Built at set-up by scripts/setup.d/30-dub-tools.mjs into .cache/bin/espeak-phonemes.
 *
 * usage: espeak-phonemes VOICE OUT.wav [RATE_WPM]
 * stdout, one record per line (times in ms from the first sample of OUT.wav):
 *   rate HZ
 *   ph MS NAME        start of a phoneme (IPA name; espeak reports pauses as "_" names or not at all)
 *   word MS CHARPOS   start of a word (character offset into the text)
 *   end MS            end of the message
 *   samples N         samples written
 * Exit status 2 on bad arguments, 3 when espeak-ng cannot start or the voice is unknown.
 */
#include <espeak-ng/speak_lib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static FILE *out;
static long samples_written;
static int sample_rate;

static void put_u32(unsigned char *p, unsigned v) {
  p[0] = v & 255; p[1] = (v >> 8) & 255; p[2] = (v >> 16) & 255; p[3] = (v >> 24) & 255;
}

static void write_header(long n) {
  unsigned char h[44];
  memcpy(h, "RIFF", 4); put_u32(h + 4, (unsigned)(36 + n * 2));
  memcpy(h + 8, "WAVEfmt ", 8); put_u32(h + 16, 16);
  h[20] = 1; h[21] = 0; h[22] = 1; h[23] = 0; /* PCM, mono */
  put_u32(h + 24, (unsigned)sample_rate); put_u32(h + 28, (unsigned)sample_rate * 2);
  h[32] = 2; h[33] = 0; h[34] = 16; h[35] = 0;
  memcpy(h + 36, "data", 4); put_u32(h + 40, (unsigned)(n * 2));
  fseek(out, 0, SEEK_SET);
  fwrite(h, 1, 44, out);
}

static int on_synth(short *wav, int n, espeak_EVENT *ev) {
  if (wav && n > 0) {
    fwrite(wav, sizeof(short), (size_t)n, out);
    samples_written += n;
  }
  for (; ev && ev->type != espeakEVENT_LIST_TERMINATED; ev++) {
    switch (ev->type) {
      case espeakEVENT_PHONEME: {
        char name[9];
        memcpy(name, ev->id.string, 8);
        name[8] = 0;
        printf("ph %d %s\n", ev->audio_position, name);
        break;
      }
      case espeakEVENT_WORD:
        printf("word %d %d\n", ev->audio_position, ev->text_position);
        break;
      case espeakEVENT_MSG_TERMINATED:
        printf("end %d\n", ev->audio_position);
        break;
      default:
        break;
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: espeak-phonemes VOICE OUT.wav [RATE_WPM] < text\n");
    return 2;
  }
  size_t cap = 1 << 16, len = 0;
  char *text = malloc(cap + 1);
  size_t got;
  while ((got = fread(text + len, 1, cap - len, stdin)) > 0) {
    len += got;
    if (len == cap) break; /* texts are sentences; longer input is truncated rather than grown without bound */
  }
  text[len] = 0;

  sample_rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 200, NULL,
                                  espeakINITIALIZE_PHONEME_EVENTS | espeakINITIALIZE_PHONEME_IPA |
                                      espeakINITIALIZE_DONT_EXIT);
  if (sample_rate <= 0) {
    fprintf(stderr, "espeak-phonemes: espeak-ng failed to initialise\n");
    return 3;
  }
  if (espeak_SetVoiceByName(argv[1]) != EE_OK) {
    fprintf(stderr, "espeak-phonemes: unknown voice '%s'\n", argv[1]);
    return 3;
  }
  if (argc > 3) espeak_SetParameter(espeakRATE, atoi(argv[3]), 0);
  out = fopen(argv[2], "wb");
  if (!out) {
    perror("espeak-phonemes: cannot open output");
    return 2;
  }
  write_header(0);
  espeak_SetSynthCallback(on_synth);
  printf("rate %d\n", sample_rate);
  espeak_Synth(text, len + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, NULL);
  espeak_Synchronize();
  write_header(samples_written);
  fclose(out);
  printf("samples %ld\n", samples_written);
  espeak_Terminate();
  free(text);
  return 0;
}
