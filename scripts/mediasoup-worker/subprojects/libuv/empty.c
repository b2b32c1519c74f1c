/* Empty: meson needs a source file for a static library. */
typedef int ms_system_libuv_empty;
