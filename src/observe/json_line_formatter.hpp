#pragma once
// spdlog formatter for the JSON-lines file: one object per line with "ts", "level", "msg",
// "node" (the fleet node's name, when there is one) and every structured field as its own key
// (numbers as JSON numbers), for jq and Loki/ELK.

#include <spdlog/formatter.h>

#include <string>

namespace lipsyncd::observe::detail {

class JsonLineFormatter final : public spdlog::formatter {
 public:
  explicit JsonLineFormatter(std::string node = {}) : node_(std::move(node)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  std::unique_ptr<spdlog::formatter> clone() const override;

 private:
  std::string node_;
};

}  // namespace lipsyncd::observe::detail
