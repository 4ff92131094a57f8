// Function multiversioning: ZEPTO_TARGET_CLONES before a function compiles it
// for AVX-512, AVX2 and baseline x86-64 and picks one at load time (an ifunc
// resolver). ThreadSanitizer's runtime is not initialized when resolvers run
// (they crash), so builds under it get the baseline version only.
#pragma once

#if defined(__SANITIZE_THREAD__) || !defined(__x86_64__)
#define ZEPTO_TARGET_CLONES
#else
#define ZEPTO_TARGET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
