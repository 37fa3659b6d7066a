#pragma once
// Hooks for metrics: the client reports traffic, responses and retries here, so the observe
// module can count them without fal depending on it. Calls come from the client's executor;
// keep them cheap. Every method has a no-op default.

#include <chrono>
#include <cstddef>
#include <string_view>

namespace lipsyncd::fal {

class FalError;

class ClientObserver {
 public:
  virtual ~ClientObserver() = default;
  virtual void on_bytes_sent(std::size_t /*bytes*/) {}
  virtual void on_bytes_received(std::size_t /*bytes*/) {}
  // operation: to_string(Operation) (operation.hpp): "initiate_upload", "upload",
  // "upload_part", "complete_upload", "submit", "status", "result", "cancel", "download".
  virtual void on_response(std::string_view /*operation*/, int /*http_status*/) {}
  virtual void on_retry(std::string_view /*operation*/, const FalError& /*cause*/,
                        std::chrono::milliseconds /*delay*/) {}
};

}  // namespace lipsyncd::fal
