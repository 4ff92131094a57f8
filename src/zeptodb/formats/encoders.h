// The encoders behind make_encoder (output.h), one factory per family.
#pragma once

#include <memory>
#include <string_view>

#include "zeptodb/formats/output.h"

namespace zepto::formats {

// TabSeparated*, CSV*, JSON, JSONCompact, JSONEachRow (text_output.cpp).
std::unique_ptr<Encoder> make_text_encoder(std::string_view name, const exec::ResultSet& rs,
                                           const OutputOptions& options);
// Native (native.cpp).
std::unique_ptr<Encoder> make_native_encoder(const exec::ResultSet& rs, const OutputOptions& options);
// ArrowStream and Arrow, the IPC stream and file formats (arrow_ipc.cpp).
std::unique_ptr<Encoder> make_arrow_encoder(bool file, const exec::ResultSet& rs, const OutputOptions& options);

}  // namespace zepto::formats
