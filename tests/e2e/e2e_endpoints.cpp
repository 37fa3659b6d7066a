// Endpoints, models and prices through the real daemon (issue 11): a v2 endpoint with no model
// configured sends a v2 model and estimates at v2's price, a model of another endpoint is
// refused before anything is uploaded, and a budget cap counts v2 jobs at v2's price.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <fstream>
#include <regex>
#include <set>
#include <string>

#include "daemon_test.hpp"
#include "loopback_http.hpp"

namespace lipsyncd::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kV2 = "fal-ai/sync-lipsync/v2";

class EndpointsE2E : public DaemonTest {
 protected:
  // lipsyncd_spend_usd_total as the metrics endpoint reports it, or -1.
  double spend_metric(int port) {
    const auto out = dir / "metrics.txt";
    run_to_completion(
        {"/usr/bin/curl", "-sS", "http://127.0.0.1:" + std::to_string(port) + "/metrics"}, out,
        20s);
    std::smatch match;
    const std::string text = read_text(out);
    if (!std::regex_search(text, match, std::regex("\nlipsyncd_spend_usd_total ([0-9.eE+-]+)"))) {
      return -1;
    }
    return std::stod(match[1].str());
  }

  // Drops talk_h264_aac.mp4 + speech_5s.wav as `stem` and returns the job id once the daemon
  // has submitted it; empty (with the failure recorded) when it never does.
  std::string drop_until_submitted(const std::string& stem) {
    drop("talk_h264_aac.mp4", stem + ".mp4");
    drop("speech_5s.wav", stem + ".wav");
    const auto id = daemon->wait_for_output(std::regex("event=submitted job_id=(\\S+)"), 60s);
    EXPECT_TRUE(id.has_value()) << daemon->log();
    return id.value_or("");
  }

  // The submits the emulator logged for `path` (their JSON bodies).
  std::vector<boost::json::object> submitted_bodies(const std::string& path) const {
    std::vector<boost::json::object> bodies;
    for (const auto& entry : emulator->requests()) {
      if (entry.at("method") != "POST" || entry.at("path").as_string() != path) continue;
      const auto* body = entry.if_contains("body");
      if (body != nullptr && body->is_object()) bodies.push_back(body->as_object());
    }
    return bodies;
  }
};

TEST_F(EndpointsE2E, V2WithoutAModelIsDeliveredWithAV2ModelAndEstimatedAtThreeDollars) {
  const int metrics_port = free_port();
  settings["metrics"]["listen"] = "\"127.0.0.1:" + std::to_string(metrics_port) + "\"";
  write_config();
  start_daemon({std::string("FAL_VIDEO_TO_VIDEO_LIPSYNC=") + kV2});
  drop("talk_h264_aac.mp4", "v2clip.mp4");
  drop("speech_5s.wav", "v2clip.wav");
  ASSERT_TRUE(delivered("v2clip")) << daemon->log();

  const auto bodies = submitted_bodies("/fal-ai/sync-lipsync/v2");
  ASSERT_EQ(bodies.size(), 1u);
  if (const auto* model = bodies[0].if_contains("model")) {
    const std::set<std::string> v2_models = {"lipsync-2", "lipsync-2-pro"};
    EXPECT_TRUE(v2_models.contains(std::string(model->as_string()))) << *model;
  }
  for (const auto& [key, value] : bodies[0]) {
    EXPECT_TRUE(key == "video_url" || key == "audio_url" || key == "model" || key == "sync_mode")
        << "undocumented input key sent: " << key;
  }

  const auto sidecar = read_json(outbox() / "v2clip.lipsync.json");
  EXPECT_EQ(sidecar.at("endpoint").as_string(), kV2);
  EXPECT_EQ(sidecar.at("model").as_string(), "lipsync-2");
  EXPECT_FALSE(sidecar.contains("billed_cost_usd")) << "fal reports no price: nothing is billed";
  EXPECT_FALSE(sidecar.contains("billed_minutes"));
  const double rate = sidecar.at("usd_per_minute").to_number<double>();
  const double minutes = sidecar.at("estimate_minutes").to_number<double>();
  const double estimate = sidecar.at("estimated_cost_usd").to_number<double>();
  EXPECT_DOUBLE_EQ(rate, 3.00);
  EXPECT_NEAR(minutes * 60, sidecar.at("output_duration_s").to_number<double>(), 0.25);
  // The sidecar rounds dollars to 4 decimals and minutes to 5 (plain decimals, issue 16).
  EXPECT_NEAR(estimate, minutes * 3.00, 1e-4) << "the estimate agrees with its minutes and rate";
  EXPECT_NEAR(spend_metric(metrics_port), estimate, 5e-5) << "lipsyncd_spend_usd_total";
  stop_daemon();
}

TEST_F(EndpointsE2E, AManifestModelOfAnotherEndpointGoesToErrorBeforeAnyUpload) {
  start_daemon();  // fal-ai/sync-lipsync (v1)
  drop("talk_h264_aac.mp4", "m.mp4");
  drop("speech_5s.wav", "m.wav");
  drop_text("m.job.json", R"({"video": "m.mp4", "audio": "m.wav", "model": "lipsync-2"})");
  ASSERT_TRUE(rejected("m")) << daemon->log();
  const auto report = read_json(error() / "m.error.json");
  EXPECT_EQ(report.at("reason_code").as_string(), "unknown_model") << report;
  EXPECT_NE(std::string(report.at("message").as_string()).find("lipsync-1.9.0-beta"),
            std::string::npos)
      << "the message names the allowed models";
  EXPECT_EQ(uploads(), 0u);
  EXPECT_EQ(submissions(), 0u);
  stop_daemon();
}

TEST_F(EndpointsE2E, AConfiguredModelOfAnotherEndpointStopsRunWithTheLine) {
  settings["fal"]["model"] = "\"lipsync-1.9.0-beta\"";
  write_config();
  const auto log = dir / "refused.log";
  const int code = run_to_completion(
      {(bin_dir() / "lipsyncd").string(), "run", "--config", config_file.string()}, log, 30s,
      ChildOptions{{"FAL_KEY=" + emulator->key(), std::string("FAL_VIDEO_TO_VIDEO_LIPSYNC=") + kV2},
                   {}});
  const auto said = read_text(log);
  EXPECT_EQ(code, 78) << said;
  EXPECT_TRUE(std::regex_search(said, std::regex("\\[fal\\] model = \"lipsync-1.9.0-beta\" "
                                                 "\\(line [0-9]+\\)")))
      << said;
  EXPECT_NE(said.find("lipsync-2, lipsync-2-pro"), std::string::npos) << said;
  EXPECT_TRUE(emulator->requests().empty());
}

TEST_F(EndpointsE2E, ADailyCapWorthTwoV2JobsSubmitsExactlyTwoOfFive) {
  // One job's estimate at v2's price, as `check` computes it.
  write_config();
  int code = -1;
  const auto check = run_cli({"check", media("talk_h264_aac.mp4").string(),
                              media("speech_5s.wav").string(), "--json", "--endpoint", kV2},
                             &code);
  ASSERT_EQ(code, 0) << check;
  const auto report = boost::json::parse(check).as_object();
  EXPECT_DOUBLE_EQ(report.at("usd_per_minute").to_number<double>(), 3.00);
  // The report rounds to a tenth of a cent; the exact figure is output minutes x $3.
  const double job_cost = report.at("output_duration_s").to_number<double>() / 60 * 3.00;
  EXPECT_NEAR(report.at("estimated_cost_usd").to_number<double>(), job_cost, 0.001);
  ASSERT_GT(job_cost, 0.05);

  settings["budget"]["daily_usd"] = std::to_string(2 * job_cost + 0.001);
  settings["intake"]["duplicate_window_h"] = "0";  // five copies of one pair: five paid jobs
  write_config();
  start_daemon({std::string("FAL_VIDEO_TO_VIDEO_LIPSYNC=") + kV2});
  for (int i = 0; i < 5; ++i) {
    drop("talk_h264_aac.mp4", "b" + std::to_string(i) + ".mp4");
    drop("speech_5s.wav", "b" + std::to_string(i) + ".wav");
  }
  const auto held = [&] {
    std::size_t n = 0;
    const auto status = status_json();
    for (const auto& job : status.at("jobs").as_array()) {
      if (job.at("state").as_string() == "held") ++n;
    }
    return n;
  };
  const auto delivered_count = [&] {
    std::size_t n = 0;
    for (const auto& name : names_in(outbox())) {
      if (name.ends_with(".lipsync.mp4")) ++n;
    }
    return n;
  };
  ASSERT_TRUE(eventually([&] { return delivered_count() == 2 && held() == 3; }, 180s))
      << daemon->log();
  // `status` counts the spend at v2's price too.
  EXPECT_NEAR(status_json().at("spend").at("today_usd").to_number<double>(), 2 * job_cost, 0.002);
  const auto final_status = status_json();
  for (const auto& job : final_status.at("jobs").as_array()) {
    if (job.at("state").as_string() == "held") {
      EXPECT_EQ(job.at("hold_reason").as_string(), "budget");
    }
  }
  std::size_t daily_holds = 0;
  const std::string log = daemon->log();
  const std::regex daily_hold("reason_code=budget_daily");
  for (std::sregex_iterator it(log.begin(), log.end(), daily_hold), end; it != end; ++it) {
    ++daily_holds;
  }
  EXPECT_GE(daily_holds, 3u) << log;
  EXPECT_EQ(submissions(), 2u);
  EXPECT_EQ(requests_created(), 2u);
  stop_daemon();
}

// The request-scoped GETs and PUTs the emulator logged from entry `from` on (paths only).
std::vector<std::string> request_paths(const std::vector<boost::json::object>& log,
                                       std::size_t from) {
  std::vector<std::string> paths;
  for (std::size_t i = from; i < log.size(); ++i) {
    const std::string path(log[i].at("path").as_string());
    if (path.find("/requests/") != std::string::npos) paths.push_back(path);
  }
  return paths;
}

// fal-protocol.md §2: lipsyncd keeps the status/response/cancel URLs the submit returned, in
// the job store, and a restarted daemon (kill -9 while fal runs the job) still follows them.
// The emulator answers the full-id form here, which lipsyncd would never build itself.
TEST_F(EndpointsE2E, AfterKillNineTheRestartedDaemonFollowsTheUrlsFalReturned) {
  start_emulator({.processing_ms = 4000, .extra_args = {"--return-full-id-urls"}});
  write_config();
  const std::string endpoint = std::string("FAL_VIDEO_TO_VIDEO_LIPSYNC=") + kV2;
  start_daemon({endpoint});
  drop("talk_h264_aac.mp4", "urls.mp4");
  drop("speech_5s.wav", "urls.wav");
  ASSERT_TRUE(daemon->wait_for_output(std::regex("event=submitted job_id="), 60s)) << daemon->log();
  std::this_thread::sleep_for(500ms);
  daemon->signal(SIGKILL);
  daemon->wait_for_exit(10s);
  const std::size_t before_restart = emulator->requests().size();

  start_daemon({endpoint});
  ASSERT_TRUE(delivered("urls", 120s)) << daemon->log();
  stop_daemon();
  EXPECT_EQ(requests_created(), 1u);
  const auto log = emulator->requests();
  const auto after_restart = request_paths(log, before_restart);
  ASSERT_FALSE(after_restart.empty()) << "the restarted daemon never asked fal about the job";
  for (const auto& path : request_paths(log, 0)) {
    EXPECT_TRUE(path.starts_with("/fal-ai/sync-lipsync/v2/requests/"))
        << "built a URL instead of following fal's: " << path;
  }
}

// `lipsyncd cancel` uses the cancel_url fal gave, read from the job store.
TEST_F(EndpointsE2E, CancelUsesTheCancelUrlFalReturned) {
  start_emulator({.queue_delay_ms = 60000, .extra_args = {"--return-full-id-urls"}});
  write_config();
  start_daemon({std::string("FAL_VIDEO_TO_VIDEO_LIPSYNC=") + kV2});
  const auto id = drop_until_submitted("cancelurl");
  ASSERT_FALSE(id.empty());
  stop_daemon();
  int code = -1;
  const auto said = run_cli({"cancel", id}, &code);
  EXPECT_EQ(code, 0) << said;
  EXPECT_NE(said.find("cancelled before it ran (nothing billed)"), std::string::npos) << said;
  std::vector<std::string> cancels;
  for (const auto& entry : emulator->requests()) {
    if (entry.at("method") == "PUT" &&
        std::string_view(entry.at("path").as_string()).ends_with("/cancel")) {
      cancels.emplace_back(entry.at("path").as_string());
    }
  }
  ASSERT_EQ(cancels.size(), 1u);
  EXPECT_TRUE(cancels[0].starts_with("/fal-ai/sync-lipsync/v2/requests/")) << cancels[0];
}

// `lipsyncd cancel` says which of fal's cancel cases happened (fal-protocol.md §4.5).
TEST_F(EndpointsE2E, CancelSaysWhetherFalCancelledItBeforeItRanOrWhileRunning) {
  start_emulator({.queue_delay_ms = 60000});
  write_config();
  start_daemon();
  const auto id = drop_until_submitted("queued");
  ASSERT_FALSE(id.empty());
  int code = -1;
  const auto said = run_cli({"cancel", id}, &code);
  EXPECT_EQ(code, 0) << said;
  EXPECT_NE(said.find("cancelled before it ran (nothing billed)"), std::string::npos) << said;
  stop_daemon();
}

TEST_F(EndpointsE2E, CancelWhileRunningSaysItMayStillBeBilled) {
  start_emulator({.processing_ms = 60000});
  write_config();
  start_daemon();
  const std::string id = drop_until_submitted("running");
  ASSERT_FALSE(id.empty());
  // Wait until fal runs it: the emulator's own status for the job's request.
  std::string request_id;
  ASSERT_TRUE(eventually(
      [&] {
        const auto status = status_json();
        for (const auto& job : status.at("jobs").as_array()) {
          if (job.at("id").as_string() == id) request_id = job.at("request_id").as_string();
        }
        return !request_id.empty();
      },
      30s));
  const auto out = dir / "fal-status.json";
  ASSERT_TRUE(eventually(
      [&] {
        run_to_completion(
            {"/usr/bin/curl", "-sS", "-H", "Authorization: Key " + emulator->key(),
             emulator->url() + "/fal-ai/sync-lipsync/requests/" + request_id + "/status"},
            out, 20s);
        return read_text(out).find("IN_PROGRESS") != std::string::npos;
      },
      60s))
      << read_text(out);
  int code = -1;
  const auto said = run_cli({"cancel", id}, &code);
  EXPECT_EQ(code, 0) << said;
  EXPECT_NE(said.find("cancellation requested while running (it may still complete and be billed)"),
            std::string::npos)
      << said;
  stop_daemon();
}

}  // namespace
}  // namespace lipsyncd::test
