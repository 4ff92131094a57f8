// Recycled memory for large buffers that are filled, used and freed again and
// again: query results and the Arrow import's decoded columns.
//
// Fresh memory costs a page fault per 4 KB page, each zeroing the page, on
// first write; for a 10 M-row column that takes longer than computing the
// values. So a large block (from 128 KB) is not freed when its last owner
// lets go: it waits in one process-wide pool (16 blocks, 512 MB at most) for
// the next request of about its size (the smallest block that holds it
// without wasting more than half), which then writes into pages already
// mapped (a 10 M-row result of three numeric columns: 53 -> 27 ms). New
// blocks ask for huge pages (huge_pages.h). Smaller requests come from the
// allocator's free lists.
#pragma once

#include <cstddef>
#include <memory>

namespace zepto {

// `bytes` bytes (contents unspecified, 64-byte aligned), owned by the
// returned pointer; see above.
std::shared_ptr<void> recycled_memory(size_t bytes);
// Frees the blocks waiting in the pool; returns their bytes.
size_t trim_recycled_memory();

}  // namespace zepto
