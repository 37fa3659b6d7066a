// kill -9 in the middle of claims, then recovery: every input is afterwards either still in
// the inbox (no job) or in exactly one job's spool folder, never lost and never in two jobs.
// On every job store backend.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <thread>

#include "job_store_backends.hpp"
#include "lipsyncd/spool/job_store.hpp"
#include "test_media.hpp"

namespace lipsyncd::spool {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kPairs = 30;

void write_bytes(const fs::path& file, const std::string& bytes) {
  std::ofstream(file, std::ios::binary) << bytes;
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

JobRequest request_for(const fs::path& inbox, int i) {
  JobRequest request;
  request.name = "pair" + std::to_string(i);
  request.video = inbox / (request.name + ".mp4");
  request.audio = inbox / (request.name + ".wav");
  return request;
}

void check_every_input_is_in_exactly_one_place(const fs::path& inbox, JobStore& store) {
  std::map<std::string, int> jobs_per_pair;
  for (const auto& job : store.unfinished()) {
    ++jobs_per_pair[job.name];
    EXPECT_EQ(read_bytes(job.video.path), "video " + job.name) << job.id;
    EXPECT_EQ(read_bytes(job.audio.path), "audio " + job.name) << job.id;
    EXPECT_FALSE(fs::exists(job.video.original_path)) << job.name << " is in two places";
    EXPECT_FALSE(fs::exists(job.audio.original_path)) << job.name << " is in two places";
  }
  for (int i = 0; i < kPairs; ++i) {
    const auto request = request_for(inbox, i);
    const int jobs = jobs_per_pair[request.name];
    EXPECT_LE(jobs, 1) << request.name << " was claimed twice";
    if (jobs == 0) {
      EXPECT_EQ(read_bytes(request.video), "video " + request.name) << request.name << " lost";
      EXPECT_EQ(read_bytes(request.audio), "audio " + request.name) << request.name << " lost";
    }
  }
  // Nothing half-claimed is left behind.
  for (const auto& entry : fs::directory_iterator(store.spool_root())) {
    EXPECT_TRUE(store.find(entry.path().filename().string()).has_value())
        << "orphan spool folder " << entry.path();
  }
}

class CrashSafetyTest : public testing::TestWithParam<std::tuple<test::JobStoreBackend, int>> {
 protected:
  std::unique_ptr<JobStore> open_store(const fs::path& state) {
    return std::get<0>(GetParam()).open({state, "lipsync-1.9.0-beta"});
  }
  std::chrono::milliseconds kill_after() const {
    return std::chrono::milliseconds(std::get<1>(GetParam()));
  }
};

TEST_P(CrashSafetyTest, ClaimsKilledAtAnyMomentAreFinishedOrUndoneByRecovery) {
  test::TempDir dir;
  const fs::path inbox = dir / "inbox";
  const fs::path state = dir / "state";
  fs::create_directories(inbox);
  for (int i = 0; i < kPairs; ++i) {
    const auto request = request_for(inbox, i);
    write_bytes(request.video, "video " + request.name);
    write_bytes(request.audio, "audio " + request.name);
  }
  open_store(state);  // creates the schema (and, on PostgreSQL, the server and database)

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The child gets its own connection, as a separate daemon process would.
    const auto store = open_store(state);
    for (int i = 0; i < kPairs; ++i) store->claim(request_for(inbox, i));
    ::_exit(0);
  }
  std::this_thread::sleep_for(kill_after());
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);

  const auto opened = open_store(state);
  JobStore& store = *opened;
  const Recovery recovery = store.recover();
  EXPECT_EQ(recovery.resume.size(), store.unfinished().size());
  check_every_input_is_in_exactly_one_place(inbox, store);
  RecordProperty("claimed_before_kill", static_cast<int>(store.unfinished().size()));
}

// A claim takes tens of ms here (several fsyncs), so these kill the child during the first
// claim, between claims and mid-way through the batch.
std::string case_name(const testing::TestParamInfo<CrashSafetyTest::ParamType>& param) {
  return std::to_string(std::get<1>(param.param)) + "ms_" + std::get<0>(param.param).name;
}

INSTANTIATE_TEST_SUITE_P(KillAfterMilliseconds, CrashSafetyTest,
                         testing::Combine(testing::ValuesIn(test::job_store_backends()),
                                          testing::Values(5, 30, 60, 90, 120, 250, 500, 900)),
                         case_name);

}  // namespace
}  // namespace lipsyncd::spool
