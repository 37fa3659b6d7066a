#pragma once
// spdlog sink that sends each message to journald as one entry with MESSAGE=, PRIORITY=,
// SYSLOG_IDENTIFIER=, NODE= (the fleet node's name, when there is one) and the structured
// fields (JOB_ID=, EVENT=, ...). Debian's spdlog
// systemd_sink cannot carry custom fields, hence this one. When journald does not take an
// entry, the line goes to the fallback stream as text instead of being lost.

#include <spdlog/sinks/base_sink.h>

#include <cstdio>
#include <mutex>
#include <string>

#include "lipsyncd/observe/logging.hpp"

namespace lipsyncd::observe::detail {

class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  JournalSink(JournalWriter writer, std::FILE* fallback, std::string node = {});

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  JournalWriter writer_;
  std::FILE* fallback_;
  std::string node_;
};

// The writer that uses sd_journal_sendv().
JournalWriter system_journal_writer();

}  // namespace lipsyncd::observe::detail
