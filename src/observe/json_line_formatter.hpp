#pragma once
// spdlog formatter for the JSON-lines file: one object per line with "ts", "level", "msg"
// and every structured field as its own key (numbers as JSON numbers), for jq and Loki/ELK.

#include <spdlog/formatter.h>

namespace lipsyncd::observe::detail {

class JsonLineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;
};

}  // namespace lipsyncd::observe::detail
