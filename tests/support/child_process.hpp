#pragma once
// Runs a real program (the daemon, the emulator, ffmpeg) for an end-to-end test. Its stdout
// and stderr go to a log file, so a chatty child never blocks on a full pipe and a failing
// test can show what the child said. The child is killed (SIGKILL) when the object dies.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace lipsyncd::test {

struct ChildOptions {
  std::vector<std::string> env{};       // extra "NAME=value" entries on top of this environment
  std::vector<std::string> unset{};     // names removed from the inherited environment
  std::filesystem::path working_dir{};  // empty: the test's own
};

class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, std::filesystem::path log_file,
               ChildOptions options = {})
      : argv_(std::move(argv)), log_file_(std::move(log_file)) {
    std::vector<std::string> env_strings;
    for (char** entry = environ; *entry != nullptr; ++entry) {
      const std::string text(*entry);
      const std::string name = text.substr(0, text.find('='));
      bool dropped = false;
      for (const auto& unset : options.unset) dropped = dropped || unset == name;
      for (const auto& extra : options.env) dropped = dropped || extra.rfind(name + "=", 0) == 0;
      if (!dropped) env_strings.push_back(text);
    }
    env_strings.insert(env_strings.end(), options.env.begin(), options.env.end());

    std::vector<char*> args, envp;
    for (auto& a : argv_) args.push_back(a.data());
    args.push_back(nullptr);
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_file_.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    if (!options.working_dir.empty()) {
      posix_spawn_file_actions_addchdir_np(&actions, options.working_dir.c_str());
    }
    const int rc = posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = -1;
      ADD_FAILURE() << "cannot start " << argv_[0] << ": " << std::strerror(rc);
    }
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() {
    if (running()) {
      ::kill(pid_, SIGKILL);
      wait_for_exit(std::chrono::seconds(10));
    }
  }

  pid_t pid() const { return pid_; }
  const std::filesystem::path& log_file() const { return log_file_; }
  std::string log() const {
    std::ifstream in(log_file_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // The first match of `pattern` in the child's output (group 1 if it has one), waiting up to
  // `timeout`; nothing if the child exits first or time runs out.
  std::optional<std::string> wait_for_output(const std::regex& pattern,
                                             std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::smatch match;
      const std::string text = log();
      if (std::regex_search(text, match, pattern)) {
        return match.size() > 1 ? match[1].str() : match[0].str();
      }
      if (!running()) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }

  bool running() {
    if (pid_ <= 0 || exit_status_) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      exit_status_ = status;
      return false;
    }
    return true;
  }

  void signal(int sig) {
    if (running()) ::kill(pid_, sig);
  }

  // The exit code (128+signal when killed by a signal), or nothing on time-out.
  std::optional<int> wait_for_exit(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (running()) {
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (!exit_status_) return std::nullopt;
    if (WIFEXITED(*exit_status_)) return WEXITSTATUS(*exit_status_);
    return 128 + WTERMSIG(*exit_status_);
  }

 private:
  std::vector<std::string> argv_;
  std::filesystem::path log_file_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

// Runs a command to completion; returns its exit code (output goes to log_file).
inline int run_to_completion(std::vector<std::string> argv, const std::filesystem::path& log_file,
                             std::chrono::milliseconds timeout = std::chrono::minutes(5),
                             ChildOptions options = {}) {
  ChildProcess child(std::move(argv), log_file, std::move(options));
  const auto code = child.wait_for_exit(timeout);
  if (!code) {
    ADD_FAILURE() << "command timed out; its output:\n" << child.log();
    return -1;
  }
  return *code;
}

}  // namespace lipsyncd::test
