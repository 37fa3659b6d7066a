#include "journal_sink.hpp"

#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include <string>
#include <vector>

#include "lipsyncd/observe/log_fields.hpp"
#include "log_line_format.hpp"
#include "text_formatter.hpp"

namespace lipsyncd::observe::detail {

JournalSink::JournalSink(JournalWriter writer, std::FILE* fallback, std::string node)
    : writer_(writer ? std::move(writer) : system_journal_writer()),
      fallback_(fallback),
      node_(std::move(node)) {}

void JournalSink::sink_it_(const spdlog::details::log_msg& msg) {
  std::vector<std::string> entry;
  entry.push_back("MESSAGE=" + std::string(payload_of(msg)));
  entry.push_back("PRIORITY=" + std::to_string(journal_priority(msg.level)));
  entry.emplace_back("SYSLOG_IDENTIFIER=lipsyncd");
  if (!node_.empty()) entry.push_back("NODE=" + node_);
  if (!msg.source.empty()) {
    entry.push_back(std::string("CODE_FILE=") + msg.source.filename);
    entry.push_back("CODE_LINE=" + std::to_string(msg.source.line));
    if (msg.source.funcname != nullptr) {
      entry.push_back(std::string("CODE_FUNC=") + msg.source.funcname);
    }
  }
  if (const auto* fields = current_log_fields()) {
    for (const auto& field : *fields) {
      entry.push_back(journal_field_name(field.key) + "=" + field.value);
    }
  }
  if (writer_(entry) || fallback_ == nullptr) return;
  spdlog::memory_buf_t text;
  TextFormatter(node_).format(msg, text);
  std::fwrite(text.data(), 1, text.size(), fallback_);
  std::fflush(fallback_);
}

void JournalSink::flush_() {}

JournalWriter system_journal_writer() {
  return [](const std::vector<std::string>& fields) {
    std::vector<iovec> vectors;
    vectors.reserve(fields.size());
    for (const auto& field : fields) {
      // sd_journal_sendv() only reads the buffers; iovec's pointer is non-const by C's design.
      vectors.push_back(iovec{const_cast<char*>(field.data()), field.size()});
    }
    return sd_journal_sendv(vectors.data(), static_cast<int>(vectors.size())) >= 0;
  };
}

}  // namespace lipsyncd::observe::detail
