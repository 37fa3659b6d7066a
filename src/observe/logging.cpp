#include "lipsyncd/observe/logging.hpp"

#include <spdlog/logger.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal_sink.hpp"
#include "json_line_formatter.hpp"
#include "lipsyncd/core/error.hpp"
#include "redacting_sink.hpp"
#include "text_formatter.hpp"

namespace lipsyncd::observe {
namespace {

std::string get(const Environment& env, const char* name) {
  const auto it = env.find(name);
  return it == env.end() ? std::string() : it->second;
}

// JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd connected stdout/stderr to. It is
// inherited by children (a shell started from a unit has it too), so only a match with our
// own stderr proves that stderr goes to the journal (sd_journal_stream_fd(3)).
bool stderr_is_journal_stream(const std::string& journal_stream, int stderr_fd) {
  struct stat info {};
  if (journal_stream.empty() || ::fstat(stderr_fd, &info) != 0) return false;
  const auto colon = journal_stream.find(':');
  if (colon == std::string::npos) return false;
  try {
    return std::stoull(journal_stream.substr(0, colon)) == info.st_dev &&
           std::stoull(journal_stream.substr(colon + 1)) == info.st_ino;
  } catch (const std::exception&) {
    return false;  // malformed: treat as "not the journal"
  }
}

spdlog::level::level_enum parse_level(const std::string& level) {
  if (level == "trace") return spdlog::level::trace;
  if (level == "debug") return spdlog::level::debug;
  if (level == "warn") return spdlog::level::warn;
  if (level == "error") return spdlog::level::err;
  return spdlog::level::info;  // config validation already refused anything else
}

std::shared_ptr<spdlog::sinks::sink> make_json_file_sink(const LogConfig& config,
                                                         const std::string& node) {
  try {
    auto sink = std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        config.json_file.string(), static_cast<std::size_t>(config.json_max_bytes),
        static_cast<std::size_t>(config.json_max_files));
    sink->set_formatter(std::make_unique<detail::JsonLineFormatter>(node));
    return sink;
  } catch (const spdlog::spdlog_ex& e) {
    throw Error("log_file_unwritable",
                "cannot open the JSON log file " + config.json_file.string() + ": " + e.what(),
                "check [log] json_file and the permissions of its folder", Permanence::permanent);
  }
}

}  // namespace

LogSink choose_log_sink(const LogConfig& config, const Environment& env, int stderr_fd) {
  if (config.sink == "stderr") return LogSink::stderr_text;
  if (config.sink == "journald") return LogSink::journald;
  if (stderr_is_journal_stream(get(env, "JOURNAL_STREAM"), stderr_fd)) return LogSink::journald;
  // Started by systemd with stderr elsewhere (StandardError=null, a file, a socket): the
  // journal is still where an operator looks. A terminal means someone is watching stderr.
  if (!get(env, "INVOCATION_ID").empty() && get(env, "JOURNAL_STREAM").empty() &&
      ::isatty(stderr_fd) == 0) {
    return LogSink::journald;
  }
  return LogSink::stderr_text;
}

std::shared_ptr<spdlog::logger> make_logger(const LogConfig& config, const Environment& env,
                                            const std::vector<std::string>& secrets,
                                            LogOutputs outputs, const std::string& node) {
  std::vector<std::shared_ptr<spdlog::sinks::sink>> sinks;
  if (choose_log_sink(config, env,
                      outputs.text_stream != nullptr ? ::fileno(outputs.text_stream)
                                                     : STDERR_FILENO) == LogSink::journald) {
    sinks.push_back(std::make_shared<detail::JournalSink>(std::move(outputs.journal_writer),
                                                          outputs.text_stream, node));
  } else {
    auto text = std::make_shared<spdlog::sinks::stdout_sink_base<spdlog::details::console_mutex>>(
        outputs.text_stream);
    text->set_formatter(std::make_unique<detail::TextFormatter>(node));
    sinks.push_back(std::move(text));
  }
  if (!config.json_file.empty()) sinks.push_back(make_json_file_sink(config, node));

  auto redacting = std::make_shared<detail::RedactingSink>(Redactor(secrets), std::move(sinks));
  auto logger = std::make_shared<spdlog::logger>("lipsyncd", std::move(redacting));
  logger->set_level(parse_level(config.level));
  // Lines are few (one per job event) and someone may be tailing the file: flush each one.
  logger->flush_on(spdlog::level::trace);
  return logger;
}

std::shared_ptr<spdlog::logger> configure_logging(const LogConfig& config, const Environment& env,
                                                  const std::vector<std::string>& secrets,
                                                  LogOutputs outputs, const std::string& node) {
  auto logger = make_logger(config, env, secrets, std::move(outputs), node);
  spdlog::set_default_logger(logger);
  return logger;
}

void set_log_level(const LogConfig& config) {
  spdlog::default_logger()->set_level(parse_level(config.level));
}

}  // namespace lipsyncd::observe
