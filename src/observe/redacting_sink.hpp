#pragma once
// spdlog sink in front of all the others: masks secrets in the message and in the structured
// fields, then forwards to its child sinks. Children keep their own formatters.

#include <spdlog/sinks/sink.h>

#include <memory>
#include <vector>

#include "lipsyncd/observe/redactor.hpp"

namespace lipsyncd::observe::detail {

class RedactingSink final : public spdlog::sinks::sink {
 public:
  RedactingSink(Redactor redactor, std::vector<std::shared_ptr<spdlog::sinks::sink>> children);

  void log(const spdlog::details::log_msg& msg) override;
  void flush() override;
  // Patterns and formatters belong to the children; these deliberately change nothing.
  void set_pattern(const std::string& pattern) override;
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override;

 private:
  Redactor redactor_;
  std::vector<std::shared_ptr<spdlog::sinks::sink>> children_;
};

}  // namespace lipsyncd::observe::detail
