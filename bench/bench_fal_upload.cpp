// Upload throughput of the fal client to the emulator on loopback for a 2 GiB file, against
// `curl -T` to the same emulator in the same run, and the peak RSS of `lipsyncd submit` while
// it uploads (2 GiB and 200 MiB: memory must stay flat with the file size).
//   BENCH  fal_upload_2GiB        MB/s  curl_-T MB/s  ratio  goal >= 0.9
//   BENCH  fal_submit_peak_rss_*  MB    -             -      goal < 64
// Inputs: $LIPSYNCD_LARGE_MEDIA/big_upload_2GiB.bin (made by make-large.sh when missing).

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "lipsyncd/fal/client.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kKey = "bench-key";

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

struct Finished {
  int exit_code = -1;
  double seconds = 0;
  double peak_rss_mb = 0;
};

// Starts a program with stdout/stderr into `log`; returns its pid.
pid_t spawn(const std::vector<std::string>& args, const fs::path& log,
            const std::vector<std::string>& extra_env = {}) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> argv, envp;
  std::vector<std::string> args_copy = args;
  for (auto& a : args_copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data()) != 0) {
    throw std::runtime_error("cannot start " + args[0]);
  }
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

Finished run(const std::vector<std::string>& args, const fs::path& log,
             const std::vector<std::string>& extra_env = {}) {
  const auto started = Clock::now();
  const pid_t pid = spawn(args, log, extra_env);
  int status = 0;
  struct rusage usage {};
  ::wait4(pid, &status, 0, &usage);
  Finished finished;
  finished.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  finished.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  finished.peak_rss_mb = static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is KiB
  return finished;
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class Emulator {
 public:
  Emulator(const fs::path& bin_dir, const fs::path& work) {
    fs::create_directories(work);
    log_ = work / "emulator.log";
    pid_ = spawn({(bin_dir / "fal-emulator").string(), "--listen", "127.0.0.1:0", "--key", kKey,
                  "--storage-dir", (work / "storage").string()},
                 log_);
    const std::regex ready(R"(listening on (http://\S+))");
    for (int i = 0; i < 600 && url_.empty(); ++i) {
      std::smatch match;
      const std::string text = read_text(log_);
      if (std::regex_search(text, match, ready)) url_ = match[1];
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (url_.empty()) throw std::runtime_error("fal-emulator did not start: " + read_text(log_));
  }
  ~Emulator() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  const std::string& url() const { return url_; }

 private:
  pid_t pid_ = -1;
  fs::path log_;
  std::string url_;
};

// `measure` against a fresh emulator working in `dir`, removed afterwards: each figure starts
// from empty storage.
template <typename Measure>
double with_fresh_emulator(const fs::path& bin_dir, const fs::path& dir, Measure measure) {
  double figure = 0;
  {
    Emulator emulator(bin_dir, dir);
    figure = measure(emulator);
  }
  fs::remove_all(dir);
  return figure;
}

// `curl -T` to a signed upload URL, the anchor: one streamed PUT, no client logic.
double curl_upload_seconds(const Emulator& emulator, const fs::path& file, const fs::path& work) {
  const auto slot = work / "slot.json";
  const auto initiate =
      run({"/usr/bin/curl", "-sS", "-f", "-o", slot.string(), "-X", "POST", "-H",
           std::string("Authorization: Key ") + kKey, "-H", "Content-Type: application/json",
           "--data", R"({"content_type":"application/octet-stream","file_name":"big.bin"})",
           emulator.url() + "/storage/upload/initiate?storage_type=fal-cdn-v3"},
          work / "curl-initiate.log");
  if (initiate.exit_code != 0) throw std::runtime_error("curl initiate failed");
  const auto upload_url = boost::json::parse(read_text(slot)).at("upload_url").as_string();
  const auto put = run({"/usr/bin/curl", "-sS", "-f", "-o", "/dev/null", "-T", file.string(),
                        std::string(upload_url)},
                       work / "curl-put.log");
  if (put.exit_code != 0)
    throw std::runtime_error("curl -T failed: " + read_text(work / "curl-put.log"));
  return put.seconds;
}

// `single_put`: the whole file in one PUT, as curl -T does (the multipart threshold raised);
// otherwise the protocol's multipart upload above 90 MiB (10 MiB parts, which the emulator
// joins on disk when completed).
double client_upload_seconds(const Emulator& emulator, const fs::path& file, bool single_put) {
  lipsyncd::FalConfig config;
  config.queue_url = emulator.url();
  config.rest_url = emulator.url();
  config.credentials = kKey;
  boost::asio::io_context io;
  lipsyncd::fal::ClientOptions options;
  options.proxy = lipsyncd::fal::ProxySettings{};
  if (single_put) options.multipart_threshold = std::numeric_limits<std::uint64_t>::max();
  lipsyncd::fal::Client client(io.get_executor(), config, options);
  std::exception_ptr failure;
  const auto started = Clock::now();
  boost::asio::co_spawn(io, client.upload(file, "application/octet-stream"),
                        [&](std::exception_ptr e, std::string) { failure = e; });
  io.run();
  if (failure) std::rethrow_exception(failure);
  return std::chrono::duration<double>(Clock::now() - started).count();
}

// Peak RSS of a whole `lipsyncd submit` of `video` (the upload dominates; the emulator then
// rejects the non-media blob, which is expected here).
double submit_peak_rss_mb(const fs::path& bin_dir, const Emulator& emulator, const fs::path& video,
                          const fs::path& audio, const fs::path& work) {
  const auto finished = run({(bin_dir / "lipsyncd").string(), "submit", video.string(),
                             audio.string(), "--out", (work / "out.mp4").string(), "--no-prepare",
                             "--queue-url", emulator.url(), "--rest-url", emulator.url()},
                            work / "submit.log", {std::string("FAL_KEY=") + kKey});
  const std::string log = read_text(work / "submit.log");
  if (log.find("submitted to") == std::string::npos) {
    throw std::runtime_error("lipsyncd submit did not get through the upload: " + log);
  }
  return finished.peak_rss_mb;
}

void print(const std::string& name, double value, const std::string& unit,
           const std::string& anchor, const std::string& anchor_value, const std::string& ratio,
           const std::string& goal) {
  std::printf("BENCH\t%s\t%.1f\t%s\t%s\t%s\t%s\t%s\n", name.c_str(), value, unit.c_str(),
              anchor.c_str(), anchor_value.c_str(), ratio.c_str(), goal.c_str());
  std::fflush(stdout);
}

}  // namespace

int main() try {
  const fs::path bin_dir =
      env_or("LIPSYNCD_BIN_DIR", fs::canonical("/proc/self/exe").parent_path().string());
  const fs::path media_dir = env_or("LIPSYNCD_TEST_MEDIA", "../shared/media");
  const fs::path large_dir = env_or("LIPSYNCD_LARGE_MEDIA", "/tmp/lipsyncd-large-media");
  const fs::path big = large_dir / "big_upload_2GiB.bin";
  if (!fs::exists(big)) {
    std::cerr << "making " << big << " ...\n";
    fs::create_directories(large_dir);
    if (run({(media_dir / "make-large.sh").string(), large_dir.string(), "big_upload"},
            large_dir / "make-large.log")
            .exit_code != 0) {
      throw std::runtime_error("make-large.sh failed");
    }
  }
  const double mb = static_cast<double>(fs::file_size(big)) / 1e6;
  const fs::path work =
      fs::temp_directory_path() / ("bench-fal-upload-" + std::to_string(::getpid()));
  fs::create_directories(work);

  const double curl_seconds = with_fresh_emulator(
      bin_dir, work / "emulator-curl",
      [&](const Emulator& emulator) { return curl_upload_seconds(emulator, big, work); });
  const double curl = mb / curl_seconds;
  char curl_text[32];
  std::snprintf(curl_text, sizeof curl_text, "%.1f", curl);
  for (const bool single_put : {true, false}) {
    const double ours_seconds = with_fresh_emulator(
        bin_dir, work / "emulator-client",
        [&](const Emulator& emulator) { return client_upload_seconds(emulator, big, single_put); });
    const double ours = mb / ours_seconds;
    char ratio[32];
    std::snprintf(ratio, sizeof ratio, "%.2f", ours / curl);
    if (single_put) {
      print("fal_upload_2GiB_one_put", ours, "MB/s", "curl_-T", curl_text, ratio, ">= 0.9");
    } else {
      print("fal_upload_2GiB_multipart", ours, "MB/s", "curl_-T", curl_text, ratio,
            "info: 205 parts + the emulator's join");
    }
  }

  // Memory: the same command for 2 GiB and for a 200 MiB prefix of it.
  const fs::path small = work / "big_upload_200MiB.bin";
  fs::copy_file(big, small);
  fs::resize_file(small, 200ull * 1024 * 1024);
  const fs::path audio = media_dir / "speech_5s.wav";
  const auto peak_rss_of_submit = [&](const fs::path& video, const char* name) {
    return with_fresh_emulator(bin_dir, work / name, [&](const Emulator& emulator) {
      return submit_peak_rss_mb(bin_dir, emulator, video, audio, work);
    });
  };
  const double rss_big = peak_rss_of_submit(big, "emulator-rss-big");
  const double rss_small = peak_rss_of_submit(small, "emulator-rss-small");
  char small_text[32], flat[32];
  std::snprintf(small_text, sizeof small_text, "%.1f", rss_small);
  std::snprintf(flat, sizeof flat, "%.2f", rss_big / rss_small);
  print("fal_submit_peak_rss_2GiB", rss_big, "MB", "same_for_200MiB", small_text, flat,
        "< 64 MB, ratio ~1");
  fs::remove_all(work);
  return 0;
} catch (const std::exception& e) {
  std::cerr << "bench_fal_upload: " << e.what() << "\n";
  return 1;
}
