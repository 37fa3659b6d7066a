// `lipsyncd check VIDEO AUDIO`: what the daemon would do with this pair, without uploading.

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "commands.hpp"
#include "lipsyncd/config/config.hpp"
#include "lipsyncd/core/error.hpp"
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
};

int run_check(const CheckOptions& options) {
  Config config;
  try {
    config = options.config_file.empty() ? default_config(current_environment())
                                         : load_config(options.config_file, current_environment());
  } catch (const Error& error) {
    std::cerr << "lipsyncd check: " << error.what() << " [" << error.reason_code() << "]\n";
    return kExitUsage;
  }
  const std::optional<SyncMode> requested =
      options.sync_mode.empty() ? std::nullopt : parse_sync_mode(options.sync_mode);
  const media::PairReport report =
      media::check_pair(options.video, options.audio, config, requested);
  std::cout << (options.json ? media::to_json(report) + "\n" : media::to_text(report));
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
  check->add_option("--config", options->config_file, "Configuration file (TOML)")
      ->check(CLI::ExistingFile);
  commands.add(check, [options] { return run_check(*options); });
}

}  // namespace lipsyncd::cli
