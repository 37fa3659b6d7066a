#pragma once
// spdlog formatter for people reading stderr: one line per message, "TIME LEVEL message
// key=value ...", the fields being those of log_fields.hpp.

#include <spdlog/formatter.h>

namespace lipsyncd::observe::detail {

class TextFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace lipsyncd::observe::detail
