// The bash completion (completion/lipsyncd.bash) offers what lipsyncd really accepts: the
// commands and options `--help` lists, every sync mode, the endpoints and models of the
// endpoint catalog, and the ids of the jobs `retry` and `cancel` can act on, read from a real
// `lipsyncd status --json`. Each case sources the script in a clean bash, sets COMP_WORDS and
// COMP_CWORD as bash would, calls _lipsyncd and reads COMPREPLY.

#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "lipsyncd/core/endpoint_catalog.hpp"
#include "lipsyncd/core/sync_mode.hpp"
#include "lipsyncd/spool/job_store.hpp"
#include "package_test_support.hpp"

namespace lipsyncd::test {
namespace {

namespace fs = std::filesystem;

std::string shell_quote(const std::string& word) {
  std::string quoted = "'";
  for (const char c : word) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// COMPREPLY for the command line `words`, the cursor on the last word.
std::set<std::string> complete(const std::vector<std::string>& words,
                               const std::vector<std::string>& env = {}) {
  TempDir dir;
  const auto script = dir / "complete.sh";
  const auto reply = dir / "reply.txt";
  std::ofstream out(script);
  out << "source " << shell_quote((source_dir() / "completion" / "lipsyncd.bash").string())
      << " || exit 3\n"
      << "complete -p lipsyncd | grep -q -- '-F _lipsyncd' || exit 4\n"
      << "COMP_WORDS=(";
  for (const auto& word : words) out << " " << shell_quote(word);
  out << " )\nCOMP_CWORD=" << words.size() - 1 << "\n"
      << "_lipsyncd\nprintf '%s\\n' \"${COMPREPLY[@]}\" > " << shell_quote(reply.string()) << "\n";
  out.close();
  ChildOptions options;
  options.env = env;
  options.working_dir = dir.path();
  const auto log = dir / "bash.log";
  EXPECT_EQ(run_to_completion({"/bin/bash", "--norc", "--noprofile", script.string()}, log,
                              std::chrono::seconds(30), options),
            0)
      << read_text(log);
  std::set<std::string> replies;
  std::istringstream lines(read_text(reply));
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) replies.insert(line);
  }
  return replies;
}

TEST(BashCompletion, OffersTheCommandsTheHelpLists) {
  const auto commands = help_commands();
  ASSERT_GE(commands.size(), 7u);
  EXPECT_EQ(complete({"lipsyncd", ""}), commands);
  EXPECT_EQ(complete({"lipsyncd", "st"}), (std::set<std::string>{"status"}));
  EXPECT_EQ(complete({"lipsyncd", "--v"}), (std::set<std::string>{"--version"}));
}

TEST(BashCompletion, OffersExactlyTheOptionsEachCommandsHelpLists) {
  for (const auto& command : help_commands()) {
    EXPECT_EQ(complete({"lipsyncd", command, "-"}), help_options({command}))
        << "options of " << command;
  }
  // After other words too, and only those starting with what is typed.
  EXPECT_EQ(complete({"lipsyncd", "status", "--config", "x.toml", "--j"}),
            (std::set<std::string>{"--json"}));
}

TEST(BashCompletion, OffersEverySyncMode) {
  std::set<std::string> modes;
  for (const auto mode : kAllSyncModes) modes.insert(std::string(to_string(mode)));
  EXPECT_EQ(complete({"lipsyncd", "check", "--sync-mode", ""}), modes);
  EXPECT_EQ(complete({"lipsyncd", "submit", "a.mp4", "--sync-mode", "b"}),
            (std::set<std::string>{"bounce"}));
}

TEST(BashCompletion, OffersTheCatalogsEndpointsAndEachEndpointsModels) {
  std::set<std::string> endpoints;
  for (const auto& endpoint : endpoint_catalog()) endpoints.insert(std::string(endpoint.id));
  EXPECT_EQ(complete({"lipsyncd", "submit", "--endpoint", ""}), endpoints);
  for (const auto& endpoint : endpoint_catalog()) {
    std::set<std::string> models;
    for (const auto& model : endpoint.models) models.insert(std::string(model.name));
    const std::string id(endpoint.id);
    EXPECT_EQ(complete({"lipsyncd", "submit", "--endpoint", id, "--model", ""}), models) << id;
    // --endpoint=ID --model=: bash splits at "=".
    EXPECT_EQ(complete({"lipsyncd", "check", "--endpoint", "=", id, "--model", "=", ""}), models)
        << id;
    // Without --endpoint: FAL_VIDEO_TO_VIDEO_LIPSYNC, as the daemon reads it.
    EXPECT_EQ(complete({"lipsyncd", "check", "--model", ""}, {"FAL_VIDEO_TO_VIDEO_LIPSYNC=" + id}),
              models)
        << id;
  }
  // Neither: the catalog's default endpoint (its first).
  std::set<std::string> default_models;
  for (const auto& model : endpoint_catalog().front().models) {
    default_models.insert(std::string(model.name));
  }
  EXPECT_EQ(complete({"lipsyncd", "check", "--model", ""}, {"FAL_VIDEO_TO_VIDEO_LIPSYNC="}),
            default_models);
}

TEST(BashCompletion, OffersLogLevelsAndFiles) {
  EXPECT_EQ(complete({"lipsyncd", "submit", "--log-level", ""}),
            (std::set<std::string>{"trace", "debug", "info", "warn", "error"}));
  TempDir dir;
  std::ofstream(dir / "clip.mp4") << "x";
  std::ofstream(dir / "clip.wav") << "x";
  const std::string prefix = (dir / "clip").string();
  const std::set<std::string> both{prefix + ".mp4", prefix + ".wav"};
  EXPECT_EQ(complete({"lipsyncd", "check", prefix}), both);
  EXPECT_EQ(complete({"lipsyncd", "check", "--json", prefix + ".mp4", prefix}), both);
  // A third file is not an argument of check.
  EXPECT_EQ(complete({"lipsyncd", "check", "a.mp4", "b.wav", prefix}), std::set<std::string>{});
  EXPECT_EQ(complete({"lipsyncd", "submit", "--out", prefix + ".w"}),
            (std::set<std::string>{prefix + ".wav"}));
}

class JobIdCompletion : public testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(dir_ / "inbox");
    std::ofstream(config_) << "[paths]\ninbox = \"inbox\"\nstate = \"state\"\n";
    const auto opened =
        spool::open_job_store(spool::JobStoreSettings{dir_ / "state", "lipsync-1.9.0-beta"});
    spool::JobStore& store = *opened;
    accepted_ = store.claim(pair("accepted")).job.id;
    held_ = store.claim(pair("held")).job.id;
    store.mark_prepared(held_, {});
    store.hold(held_, spool::HoldReason::budget, "daily budget reached");
    failed_ = store.claim(pair("failed")).job.id;
    store.fail(failed_, {"prepare", "no_face", "no face found", "use a video with a face"});
    cancelled_ = store.claim(pair("cancelled")).job.id;
    store.cancel(cancelled_, "test");
  }

  JobRequest pair(const std::string& stem) {
    JobRequest request;
    request.name = stem;
    request.video = dir_ / "inbox" / (stem + ".mp4");
    request.audio = dir_ / "inbox" / (stem + ".wav");
    std::ofstream(request.video) << "VIDEO " << stem;
    std::ofstream(request.audio) << "AUDIO " << stem;
    return request;
  }

  std::string program() const { return (bin_dir() / "lipsyncd").string(); }

  TempDir dir_;
  fs::path config_ = dir_ / "lipsyncd.toml";
  std::string accepted_, held_, failed_, cancelled_;
};

TEST_F(JobIdCompletion, RetryOffersTheHeldDeferredAndFailedJobs) {
  EXPECT_EQ(complete({program(), "retry", "--config", config_.string(), ""}),
            (std::set<std::string>{held_, failed_}));
  EXPECT_EQ(
      complete({program(), "retry", "-c", config_.string(), failed_.substr(0, 20)}).count(failed_),
      1u);
}

TEST_F(JobIdCompletion, CancelOffersTheUnfinishedJobs) {
  EXPECT_EQ(complete({program(), "cancel", "-c", config_.string(), ""}),
            (std::set<std::string>{accepted_, held_}));
  // The id is the only argument: nothing after it.
  EXPECT_EQ(complete({program(), "cancel", "-c", config_.string(), accepted_, ""}),
            std::set<std::string>{});
}

}  // namespace
}  // namespace lipsyncd::test
