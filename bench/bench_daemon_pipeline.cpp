// What the daemon's job pipeline costs on top of the job store: N jobs driven through every
// state by JobPipeline (fake media and fal, real SQLite store) against the same transitions
// called directly. Prints BENCH lines (see bench/CMakeLists.txt).

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "lipsyncd/core/atomic_file.hpp"
#include "lipsyncd/daemon/job_pipeline.hpp"

namespace {

using namespace lipsyncd;
namespace fs = std::filesystem;

const std::string kFakeMp4 = std::string(
                                 "\0\0\0\x18"
                                 "ftypisom",
                                 12) +
                             "fake video body";

class InstantMedia : public daemon::MediaWork {
 public:
  daemon::PreparedJob prepare(const fs::path& video, const fs::path& audio, const fs::path&,
                              std::optional<SyncMode>, const ModelChoice& price) override {
    daemon::PreparedJob prepared;
    prepared.plan.normalized_video = video;
    prepared.plan.normalized_audio = audio;
    prepared.plan.model = price.model;
    prepared.plan.output_s = 2;
    prepared.plan.estimated_usd = 0.02;
    return prepared;
  }
  VideoFacts probe_video(const fs::path&) override { return {true, 2}; }
  // Its pairs are short: no long-form job, so nothing is ever stitched.
  daemon::StitchSummary stitch(const daemon::StitchWork&, const fs::path&) override {
    throw std::logic_error("bench_daemon_pipeline plans no long-form job");
  }
};

class InstantFal : public daemon::FalService {
 public:
  boost::asio::awaitable<std::string> upload(fs::path) override { co_return "http://x/f"; }
  boost::asio::awaitable<fal::Submission> submit(fal::LipsyncInput) override {
    fal::Submission submission;
    submission.request_id = "req-" + std::to_string(++submits_);
    co_return submission;
  }
  boost::asio::awaitable<daemon::ResultFile> wait_for_result(
      fal::Submission, std::function<void(const fal::Progress&)>) override {
    co_return daemon::ResultFile{"http://x/r.mp4", kFakeMp4.size()};
  }
  boost::asio::awaitable<void> download(std::string, fs::path destination,
                                        std::optional<std::uint64_t>) override {
    write_file_atomically(destination, kFakeMp4);
    co_return;
  }
  boost::asio::awaitable<fal::CancelOutcome> cancel(fal::Submission) override {
    co_return fal::CancelOutcome::cancelled_before_run;
  }
  std::string endpoint() const override { return "fal-ai/sync-lipsync"; }

 private:
  int submits_ = 0;
};

struct Folders {
  explicit Folders(const fs::path& root) : root_(root) {
    for (const char* name : {"inbox", "outbox", "done", "error"})
      fs::create_directories(root / name);
  }
  JobRequest drop(int i) const {
    JobRequest request;
    request.name = "clip" + std::to_string(i);
    request.video = root_ / "inbox" / (request.name + ".mp4");
    request.audio = root_ / "inbox" / (request.name + ".wav");
    std::ofstream(request.video) << "video " << i;
    std::ofstream(request.audio) << "audio " << i;
    return request;
  }
  fs::path root_;
};

std::shared_ptr<const Config> config_for(const fs::path& root) {
  auto config = std::make_shared<Config>();
  config->paths.inbox = root / "inbox";
  config->paths.outbox = root / "outbox";
  config->paths.done = root / "done";
  config->paths.error = root / "error";
  config->paths.state = root / "state";
  config->fal.max_in_flight = 8;
  return config;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The anchor: the transitions a delivered job needs, called straight on the store.
double bare_store_run(const fs::path& root, int jobs) {
  Folders folders(root);
  const auto config = config_for(root);
  const auto opened =
      spool::open_job_store({config->paths.state, config->fal.model, spool::system_now});
  spool::JobStore& store = *opened;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < jobs; ++i) {
    const auto id = store.claim(folders.drop(i)).job.id;
    spool::JobPlan plan;
    plan.output_s = 2;
    plan.estimated_usd = 0.02;
    store.mark_prepared(id, plan);
    store.mark_uploaded(id, {"http://x/v", "http://x/a"});
    store.mark_submitting(id, "fal-ai/sync-lipsync");
    store.mark_submitted(id, "req-" + std::to_string(i));
    store.mark_completed(id, {"http://x/r.mp4", kFakeMp4.size(), std::nullopt, std::nullopt});
    store.mark_delivered(id, {});
  }
  return seconds_since(start);
}

double pipeline_run(const fs::path& root, int jobs) {
  Folders folders(root);
  const auto config = config_for(root);
  const auto opened =
      spool::open_job_store({config->paths.state, config->fal.model, spool::system_now});
  spool::JobStore& store = *opened;
  InstantMedia media;
  InstantFal fal;
  boost::asio::io_context io;
  boost::asio::thread_pool cpu(1);
  daemon::JobPipeline pipeline(
      daemon::PipelineContext{store, media, fal, io.get_executor(), cpu.get_executor(), {}},
      config);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < jobs; ++i) {
    const auto id = store.claim(folders.drop(i)).job.id;
    boost::asio::co_spawn(io, pipeline.run(id), boost::asio::detached);
  }
  io.run();
  const double elapsed = seconds_since(start);
  int delivered = 0;
  for (const auto& entry : fs::directory_iterator(config->paths.outbox)) {
    delivered += entry.path().extension() == ".mp4" ? 1 : 0;
  }
  if (delivered != jobs) {
    std::fprintf(stderr, "only %d of %d jobs delivered\n", delivered, jobs);
    std::exit(1);
  }
  cpu.join();
  return elapsed;
}

}  // namespace

int main() {
  const int jobs = 200;
  const auto root = fs::temp_directory_path() / ("bench-daemon-" + std::to_string(::getpid()));
  const double bare = bare_store_run(root / "bare", jobs);
  const double piped = pipeline_run(root / "pipeline", jobs);
  fs::remove_all(root);
  const double per_job_ms = piped / jobs * 1000;
  const double anchor_ms = bare / jobs * 1000;
  std::printf(
      "BENCH\tdaemon_pipeline_per_job\t%.2f\tms\tstore_transitions_only\t%.2f\t%.2f\t"
      "pipeline overhead (delivery files, events) < 3x the bare store\n",
      per_job_ms, anchor_ms, per_job_ms / anchor_ms);
  std::printf(
      "BENCH\tdaemon_pipeline_throughput\t%.1f\tjobs/s\t-\t-\t-\t>= 5 jobs/s (7 fsynced "
      "transitions a job)\n",
      jobs / piped);
  return 0;
}
