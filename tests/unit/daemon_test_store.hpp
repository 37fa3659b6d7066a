#pragma once
// A real job store (SQLite in a temp folder) on a settable clock, and a way to claim a pair
// into it: what the daemon's pieces are tested against.

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "lipsyncd/spool/job_store.hpp"
#include "test_media.hpp"

namespace lipsyncd::daemon::test_support {

// Writes <stem>.mp4 and <stem>.wav into `inbox` and returns the request that names them, as
// the intake would hand it over.
inline JobRequest write_pair(const std::filesystem::path& inbox, const std::string& stem,
                             const std::string& video_bytes = "video",
                             const std::string& audio_bytes = "audio") {
  JobRequest request;
  request.name = stem;
  request.video = inbox / (stem + ".mp4");
  request.audio = inbox / (stem + ".wav");
  request.source = JobSource::same_stem;
  std::ofstream(request.video, std::ios::binary) << video_bytes;
  std::ofstream(request.audio, std::ios::binary) << audio_bytes;
  return request;
}

struct TestStore {
  TestStore() {
    std::filesystem::create_directories(inbox());
    spool::JobStoreSettings settings;
    settings.state_dir = dir / "state";
    settings.clock = [this] { return now; };
    settings.inbox_dir = inbox();
    settings.node = "test-node";  // a daemon's store always has a node name
    store = spool::open_job_store(settings);
  }

  std::filesystem::path inbox() const { return dir / "inbox"; }

  spool::JobId claim(const std::string& stem) {
    return store->claim(write_pair(inbox(), stem, "video of " + stem, "audio of " + stem)).job.id;
  }

  // A claimed job prepared with an estimate of `usd`.
  spool::JobId prepared(const std::string& stem, double usd) {
    const auto id = claim(stem);
    spool::JobPlan plan;
    plan.output_s = 60;
    plan.usd_per_minute = usd;
    plan.estimated_usd = usd;
    store->mark_prepared(id, plan);
    return id;
  }

  lipsyncd::test::TempDir dir;
  spool::TimePoint now = std::chrono::system_clock::now();
  std::unique_ptr<spool::JobStore> store;
};

}  // namespace lipsyncd::daemon::test_support
