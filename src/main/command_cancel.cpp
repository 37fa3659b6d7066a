// `lipsyncd cancel ID`: stop a job; cancel it at fal too when it was submitted.

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <iostream>
#include <optional>
#include <string>

#include "commands.hpp"
#include "lipsyncd/daemon/fal_service.hpp"
#include "lipsyncd/daemon/job_files.hpp"
#include "lipsyncd/fal/client.hpp"
#include "lipsyncd/outbox/delivery.hpp"
#include "lipsyncd/outbox/placement.hpp"
#include "lipsyncd/spool/job_store.hpp"
#include "lipsyncd/spool/spool_cleanup.hpp"
#include "store_commands.hpp"

namespace lipsyncd::cli {
namespace {

struct CancelOptions {
  std::string config_file;
  std::string job_id;
};

// Asks fal to drop the request; says in one line which of fal's cases happened (§4.5).
void cancel_at_fal(const FalConfig& config, const fal::Submission& request) {
  const std::string& request_id = request.request_id;
  boost::asio::io_context io;
  fal::Client client(io.get_executor(), config);
  client.remember_urls(request);  // fal's own cancel URL, as the submit gave it
  auto outcome = boost::asio::co_spawn(io, client.cancel(request_id), boost::asio::use_future);
  io.run();
  try {
    const fal::CancelOutcome result = outcome.get();
    std::cout << "fal: request " << request_id << " " << fal::describe(result) << " ["
              << fal::to_string(result) << "]\n";
  } catch (const fal::FalError& e) {
    std::cout << "fal: could not cancel request " << request_id << ": " << e.what()
              << " (it may still run and be billed)\n";
  }
}

int cancel_job(const CancelOptions& options) {
  const auto located = locate_config_option(options.config_file);
  const auto settings = job_store_settings(located.config);
  const auto opened = spool::open_job_store(settings);
  spool::JobStore& store = *opened;
  const auto job = store.get(options.job_id);
  if (spool::is_final(job.state)) {
    std::cout << "job " << job.id << " is already " << spool::to_string(job.state) << "\n";
    return kExitFailure;
  }
  if (job.is_segment()) {
    // Its inputs are cut from its job's, and the job cannot be delivered without it.
    std::cout << "job " << job.id << " is segment " << job.segment->index << "/"
              << job.segment->count << " of job " << job.segment->parent_id << ": cancel `"
              << job.segment->parent_id << "` instead\n";
    return kExitFailure;
  }
  const auto stage = spool::to_string(job.stage());
  // A long-form job's segments are cancelled with it: those at fal are cancelled there too.
  const auto segments = store.segments_of(job.id);
  // The store first: the daemon stops at its next step once the job is cancelled there.
  store.cancel(job.id, "cancelled with `lipsyncd cancel`");
  std::cout << "job " << job.id << " (" << job.name << ") cancelled at stage " << stage << "\n";
  if (!job.request_id.empty() && !job.result) {
    cancel_at_fal(located.config.fal, daemon::fal_request_of(job));
  }
  for (const auto& segment : segments) {
    if (spool::is_final(segment.state) || segment.request_id.empty() || segment.result) continue;
    std::cout << "segment " << segment.id << ": ";
    cancel_at_fal(located.config.fal, daemon::fal_request_of(segment));
  }
  outbox::ErrorReport report;
  report.job_id = job.id;
  report.stage = std::string(stage);
  report.reason_code = "cancelled";
  report.message = "cancelled with `lipsyncd cancel`";
  report.hint = "drop the files into the inbox again to start over";
  if (!job.request_id.empty()) report.request_id = job.request_id;
  const auto path =
      outbox::reject_inputs(daemon::job_inputs(job), located.config.paths.error, job.name, report);
  std::cout << "inputs moved to " << path.parent_path().string() << "\n";
  std::error_code ec;
  if (std::filesystem::exists(job.result_file(), ec)) {
    // Paid for: given to the person beside the inputs rather than thrown away.
    const auto kept =
        outbox::move_into(job.result_file(), located.config.paths.error, job.name + ".result.mp4");
    std::cout << "fal's result, already downloaded, moved to " << kept.destination.string() << "\n";
  }
  // Nothing in the spool folder is needed any more (the daemon may still be writing into it
  // for a moment; its next start removes what that leaves).
  spool::tidy_final_spool_folder(store.get(job.id));
  return kExitOk;
}

}  // namespace

void register_cancel_command(CLI::App& app, CommandRegistry& commands) {
  auto options = std::make_shared<CancelOptions>();
  auto* cancel = app.add_subcommand(
      "cancel",
      "Cancel a job: it stops at its next step, its inputs (and a result already downloaded) "
      "move to error/ and its spool folder is removed. A job already submitted is cancelled at "
      "fal too, and the command says what that achieved: cancelled before it ran (nothing "
      "billed), cancellation requested while running (it may still complete and be billed), or "
      "already completed (billed). Works while the daemon runs.");
  cancel->add_option("ID", options->job_id, "Job id, as `lipsyncd status` shows it")->required();
  add_config_option(*cancel, options->config_file);
  commands.add(cancel, [options] { return cancel_job(*options); });
}

}  // namespace lipsyncd::cli
