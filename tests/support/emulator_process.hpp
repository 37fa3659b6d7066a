#pragma once
// Starts build/bin/fal-emulator on a free localhost port for one test, in its own work dir
// (storage, request log and the emulator's output live there), and reads back what clients
// sent it. Header-only; the emulator's flags and fault schema are in tests/fal_emulator/README.md.

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "child_process.hpp"
#include "test_media.hpp"

namespace lipsyncd::test {

struct EmulatorOptions {
  std::string key = "test-key";
  bool tls = false;  // serve HTTPS with tls_cert / tls_key (PEM files)
  std::filesystem::path tls_cert{}, tls_key{};
  int queue_delay_ms = 0;  // least time a request stays IN_QUEUE
  int processing_ms = 0;   // least time a request stays IN_PROGRESS
  std::vector<std::string> extra_args{};
};

class EmulatorProcess {
 public:
  EmulatorProcess(const std::filesystem::path& work_dir, EmulatorOptions options = {})
      : work_dir_(work_dir), options_(std::move(options)) {
    std::filesystem::create_directories(work_dir_);
    std::vector<std::string> argv = {(bin_dir() / "fal-emulator").string(),
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--key",
                                     options_.key,
                                     "--storage-dir",
                                     (work_dir_ / "storage").string(),
                                     "--request-log",
                                     request_log().string(),
                                     "--queue-delay-ms",
                                     std::to_string(options_.queue_delay_ms),
                                     "--processing-ms",
                                     std::to_string(options_.processing_ms)};
    if (options_.tls) {
      argv.insert(argv.end(), {"--tls-cert", options_.tls_cert.string(), "--tls-key",
                               options_.tls_key.string()});
    }
    argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
    process_ = std::make_unique<ChildProcess>(argv, work_dir_ / "emulator.log");
    const auto url = process_->wait_for_output(std::regex(R"(listening on (https?://\S+))"),
                                               std::chrono::seconds(30));
    if (!url) {
      ADD_FAILURE() << "fal-emulator did not start; its output:\n" << process_->log();
    } else {
      url_ = *url;
    }
  }
  EmulatorProcess(const EmulatorProcess&) = delete;
  EmulatorProcess& operator=(const EmulatorProcess&) = delete;
  ~EmulatorProcess() {
    process_->signal(SIGTERM);
    process_->wait_for_exit(std::chrono::seconds(5));  // SIGKILL by ChildProcess otherwise
  }

  const std::string& url() const { return url_; }  // "http://127.0.0.1:PORT" (or https://)
  const std::string& key() const { return options_.key; }
  std::filesystem::path request_log() const { return work_dir_ / "requests.jsonl"; }

  // Every request the emulator received so far (control routes excepted), oldest first. Each
  // line is written before its response is sent.
  std::vector<boost::json::object> requests() const {
    std::vector<boost::json::object> entries;
    std::ifstream in(request_log());
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      boost::json::error_code ec;
      auto value = boost::json::parse(line, ec);
      if (ec || !value.is_object()) {
        ADD_FAILURE() << "bad request log line: " << line;
        continue;
      }
      entries.push_back(std::move(value.as_object()));
    }
    return entries;
  }

  // How many requests had this method and a path matching `path` as a whole (no query).
  size_t count(std::string_view method, const std::regex& path) const {
    size_t matches = 0;
    for (const auto& entry : requests()) {
      const auto* m = entry.if_contains("method");
      const auto* p = entry.if_contains("path");
      if (m == nullptr || p == nullptr || !m->is_string() || !p->is_string()) continue;
      const std::string entry_path(p->as_string());
      if (m->as_string() == method && std::regex_match(entry_path, path)) ++matches;
    }
    return matches;
  }

  // Replaces the scripted faults (POST /_emulator/faults); see the README for the schema.
  void set_faults(const std::string& json_body) const {
    const auto body_file = work_dir_ / "faults-request.json";
    std::ofstream(body_file) << json_body;
    control({"-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
             "@" + body_file.string()});
  }
  void clear_faults() const { control({"-X", "DELETE"}); }

  ChildProcess& process() { return *process_; }

 private:
  void control(std::vector<std::string> args) const {
    std::vector<std::string> argv = {
        "/usr/bin/curl", "-sS", "-f", "-k", "-o", (work_dir_ / "faults-response.json").string()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back(url_ + "/_emulator/faults");
    const auto log = work_dir_ / "faults-curl.log";
    const int code = run_to_completion(argv, log, std::chrono::seconds(30));
    if (code != 0) {
      std::ifstream in(log);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      ADD_FAILURE() << "setting emulator faults failed (curl exit " << code << "): " << text;
    }
  }

  std::filesystem::path work_dir_;
  EmulatorOptions options_;
  std::unique_ptr<ChildProcess> process_;
  std::string url_;
};

}  // namespace lipsyncd::test
