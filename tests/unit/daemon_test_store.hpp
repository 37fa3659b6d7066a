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

struct TestStore {
  TestStore() {
    std::filesystem::create_directories(inbox());
    spool::JobStoreSettings settings;
    settings.state_dir = dir / "state";
    settings.clock = [this] { return now; };
    store = spool::open_job_store(settings);
  }

  std::filesystem::path inbox() const { return dir / "inbox"; }

  spool::JobId claim(const std::string& stem) {
    const auto video = inbox() / (stem + ".mp4");
    const auto audio = inbox() / (stem + ".wav");
    std::ofstream(video, std::ios::binary) << "video of " << stem;
    std::ofstream(audio, std::ios::binary) << "audio of " << stem;
    JobRequest request;
    request.name = stem;
    request.video = video;
    request.audio = audio;
    request.source = JobSource::same_stem;
    return store->claim(request).job.id;
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
