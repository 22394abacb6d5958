// Linked into every executable of a SHARDLAB_SANITIZE build (tests, the CLI they run, the
// fuzzers, benchmarks): the sanitizers' default options, so a test, a `--gtest_list_tests` during
// the build and a subprocess all stop at the first report with a stack. Options in ASAN_OPTIONS,
// UBSAN_OPTIONS and LSAN_OPTIONS are applied after these and win.
extern "C" {

const char* __asan_default_options() { return "halt_on_error=1:print_stacktrace=1:detect_stack_use_after_return=1"; }

const char* __ubsan_default_options() { return "halt_on_error=1:print_stacktrace=1"; }

// Leaks are checked (at exit); tests/sanitizer/lsan.supp names the third-party ones we accept.
const char* __lsan_default_options() { return "suppressions=" SHARDLAB_LSAN_SUPPRESSIONS; }
}
