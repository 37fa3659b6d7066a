#include "command_runner.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/unique_fd.hpp"

extern char** environ;

namespace lipsyncd::emulator {

CommandResult run_command(const std::vector<std::string>& argv, bool merge_stderr) {
  std::array<int, 2> pipe_fds{};
  if (::pipe2(pipe_fds.data(), O_CLOEXEC) != 0) {
    throw Error("emulator_pipe_failed",
                std::string("cannot create a pipe: ") + std::strerror(errno),
                "check the process's file descriptor limit", Permanence::transient);
  }
  UniqueFd read_end(pipe_fds[0]);
  UniqueFd write_end(pipe_fds[1]);

  std::vector<std::string> args_copy = argv;
  std::vector<char*> args;
  for (auto& arg : args_copy) args.push_back(arg.data());
  args.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  if (merge_stderr) {
    posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  }
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  write_end.reset();
  if (rc != 0) {
    throw Error("emulator_command_missing",
                "cannot start " + argv.front() + ": " + std::strerror(rc),
                "install Debian's ffmpeg package (it provides ffmpeg and ffprobe)");
  }

  CommandResult result;
  std::array<char, 8192> chunk{};
  for (;;) {
    const ssize_t got = ::read(read_end.get(), chunk.data(), chunk.size());
    if (got > 0) {
      result.output.append(chunk.data(), static_cast<size_t>(got));
    } else if (got == 0 || errno != EINTR) {
      break;
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace lipsyncd::emulator
