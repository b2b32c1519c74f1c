// Empty: meson needs a source file for a static library.
namespace ms_system_empty {}
