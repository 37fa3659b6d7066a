#pragma once
// Builds the process's logger from [log]: stderr text (run by hand) or journald with
// structured fields (run by systemd), plus an optional JSON-lines file rotated by size. Every
// sink sits behind a Redactor, so the configured secrets never reach any output.

#include <spdlog/fwd.h>

#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "lipsyncd/config/config.hpp"

namespace lipsyncd::observe {

enum class LogSink { stderr_text, journald };

// [log] sink "stderr" or "journald" as written; "auto" picks journald when systemd started
// us: INVOCATION_ID is set, or JOURNAL_STREAM names the file stderr_fd is connected to.
LogSink choose_log_sink(const LogConfig& config, const Environment& env, int stderr_fd = 2);

// Sends one journal entry, each element a "FIELD=value" string; false when journald did not
// take it (no socket, say). The default uses sd_journal_sendv().
using JournalWriter = std::function<bool(const std::vector<std::string>& fields)>;

// Where the sinks write; tests point them elsewhere.
struct LogOutputs {
  std::FILE* text_stream = stderr;
  JournalWriter journal_writer{};  // empty: the system journal
};

// The logger for `config`; throws lipsyncd::Error ("log_file_unwritable") when the JSON file
// cannot be opened. `secrets` are masked in every line (usually {config.fal.credentials}).
// `node`, the daemon's [fleet] node, is on every line of every sink (text `node=NAME`, JSON
// "node", journald NODE=), so a fleet's logs, gathered in one place, say which host wrote what;
// empty leaves it out (one-shot commands).
std::shared_ptr<spdlog::logger> make_logger(const LogConfig& config, const Environment& env,
                                            const std::vector<std::string>& secrets,
                                            LogOutputs outputs = {}, const std::string& node = {});

// make_logger() installed as spdlog's default logger, which log_event() and spdlog::info()
// and friends write to. Call again to apply a reloaded configuration.
std::shared_ptr<spdlog::logger> configure_logging(const LogConfig& config, const Environment& env,
                                                  const std::vector<std::string>& secrets,
                                                  LogOutputs outputs = {},
                                                  const std::string& node = {});

// SIGHUP: applies [log] level to the default logger at once (sink and json_file keep what
// the process started with). Only the level changes: threads logging meanwhile keep using the
// same logger safely.
void set_log_level(const LogConfig& config);

}  // namespace lipsyncd::observe
