#pragma once
// spdlog formatter for people reading stderr: one line per message, "TIME LEVEL message
// key=value ... node=NAME", the fields being those of log_fields.hpp and the fleet node's name
// last (when there is one).

#include <spdlog/formatter.h>

#include <string>

namespace lipsyncd::observe::detail {

class TextFormatter final : public spdlog::formatter {
 public:
  explicit TextFormatter(std::string node = {}) : node_(std::move(node)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;

 private:
  std::string node_;
};

}  // namespace lipsyncd::observe::detail
