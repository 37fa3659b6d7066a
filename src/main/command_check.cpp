// `lipsyncd check VIDEO AUDIO`: what the daemon would do with this pair, without uploading.

#include <fmt/format.h>

#include <boost/json.hpp>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "commands.hpp"
#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/core/json_text.hpp"
#include "lipsyncd/core/number_format.hpp"
#include "lipsyncd/core/sync_mode.hpp"
#include "lipsyncd/media/pair_check.hpp"

namespace lipsyncd::cli {
namespace {

struct CheckOptions {
  std::string video;
  std::string audio;
  bool json = false;
  std::string sync_mode;
  std::string config_file;
  std::string endpoint;
  std::string model;
};

// The report's JSON plus where the estimate's rate comes from.
std::string with_pricing(const std::string& report_json, const ModelChoice& choice) {
  boost::json::value report = boost::json::parse(report_json);
  if (report.is_object()) {
    auto& object = report.as_object();
    object["endpoint"] = choice.endpoint;
    object["model"] =
        choice.model.empty() ? boost::json::value(nullptr) : boost::json::value(choice.model);
    object["usd_per_minute"] = json_decimal(choice.usd_per_minute, kUsdDecimals);
  }
  return json_text(report);
}

int run_check(const CheckOptions& options) {
  Config config;
  try {
    config = options.config_file.empty() ? default_config(current_environment())
                                         : load_config(options.config_file, current_environment());
  } catch (const Error& error) {
    std::cerr << "lipsyncd check: " << error.what() << " [" << error.reason_code() << "]\n";
    return kExitUsage;
  }
  // The estimate uses the rate of the endpoint + model the job would go to.
  ModelChoice choice;
  try {
    choose_model(config, options.endpoint, options.model);
    choice = model_choice(config);
  } catch (const Error& error) {
    std::cerr << "lipsyncd check: " << error.what() << " [" << error.reason_code()
              << "]\n  hint: " << error.hint() << "\n";
    return kExitUsage;
  }
  const std::optional<SyncMode> requested =
      options.sync_mode.empty() ? std::nullopt : parse_sync_mode(options.sync_mode);
  const media::PairReport report =
      media::check_pair(options.video, options.audio, config, requested);
  if (options.json) {
    std::cout << with_pricing(media::to_json(report), choice) << "\n";
  } else {
    std::cout << media::to_text(report)
              << fmt::format("endpoint {}, model {}, ${:.2f} per output minute{}\n",
                             choice.endpoint, choice.model.empty() ? "(none)" : choice.model,
                             choice.usd_per_minute,
                             choice.price_overridden ? " (from [prices])" : "");
  }
  return report.verdict == media::Verdict::reject ? kExitFailure : kExitOk;
}

}  // namespace

void register_check_command(CLI::App& app, CommandRegistry& commands) {
  auto options = std::make_shared<CheckOptions>();
  auto* check = app.add_subcommand(
      "check",
      "Check a video + audio pair without uploading anything: probe both files, look for a "
      "face, choose the sync mode, estimate the cost, and give the verdict the daemon would.\n"
      "Exit code: 0 accept (also with a warning), 1 reject, 2 usage error.");
  check->add_option("VIDEO", options->video, "The video of the speaker (MP4, MOV, AVI, WebM)")
      ->required()
      ->check(CLI::ExistingFile);
  check
      ->add_option("AUDIO", options->audio,
                   "The speech (WAV, MP3, AAC, FLAC, or a video file's audio track)")
      ->required()
      ->check(CLI::ExistingFile);
  check->add_flag("--json", options->json, "Print one JSON object instead of text");
  check
      ->add_option("--sync-mode", options->sync_mode,
                   "Use this sync mode instead of the policy's choice")
      ->check(CLI::IsMember({"cut_off", "loop", "bounce", "silence", "remap"}));
  check->add_option("--endpoint", options->endpoint,
                    "fal endpoint id whose price the estimate uses, e.g. fal-ai/sync-lipsync/v2 "
                    "(default: [fal] endpoint, or FAL_VIDEO_TO_VIDEO_LIPSYNC)");
  check->add_option("--model", options->model,
                    "Model of that endpoint (default: [fal] model, else the endpoint's default); "
                    "another endpoint's model is a usage error (exit 2)");
  check->add_option("--config", options->config_file, "Configuration file (TOML)")
      ->check(CLI::ExistingFile);
  commands.add(check, [options] { return run_check(*options); });
}

}  // namespace lipsyncd::cli
