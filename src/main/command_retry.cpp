// `lipsyncd retry ID`: try a deferred, held or failed job again now.

#include <iostream>
#include <optional>
#include <string>

#include "commands.hpp"
#include "lipsyncd/core/error.hpp"
#include "lipsyncd/daemon/job_files.hpp"
#include "lipsyncd/spool/job_store.hpp"
#include "store_commands.hpp"

namespace lipsyncd::cli {
namespace {

struct RetryOptions {
  std::string config_file;
  std::string job_id;
};

std::string what_happens_next(const spool::JobRecord& job) {
  switch (job.state) {
    case spool::JobState::completed:
      return "its result is delivered (downloaded from fal again if needed), nothing is paid "
             "again";
    case spool::JobState::submitted:
      return "fal's request " + job.request_id +
             " is polled and its result downloaded, nothing is submitted again";
    case spool::JobState::accepted:
      return "it starts over (nothing was paid for it)";
    case spool::JobState::segmented:
      return "its segments go on: the unpaid ones are submitted again, the paid ones only "
             "polled and delivered";
    case spool::JobState::prepared:
      if (job.is_segment())
        return "the segment is uploaded and submitted again (nothing was paid for it)";
      return "it goes on from there";
    default:
      return "it goes on from there";
  }
}

int retry_job(const RetryOptions& options) {
  const auto located = locate_config_option(options.config_file);
  const auto settings = job_store_settings(located.config);
  const auto opened = spool::open_job_store(settings);
  spool::JobStore& store = *opened;
  const auto job = store.get(options.job_id);
  if (job.state == spool::JobState::failed && !job.is_segment()) {
    // A failed job's inputs went to error/: they come back into its spool folder first (a
    // segment's are cut files in its job's folder, never moved).
    try {
      const int restored = daemon::restore_inputs_from_error(job, located.config.paths.error);
      std::cout << "moved " << restored << " input file(s) back from "
                << located.config.paths.error.string() << "\n";
    } catch (const Error& e) {
      // A paid result is delivered even when its inputs were taken out of error/ meanwhile.
      if (!job.has_paid_request()) throw;
      std::cout << "note: " << e.what() << "; the result is delivered without them\n";
    }
  }
  const auto retried = store.retry(options.job_id);
  std::cout << "job " << retried.id << " (" << retried.name << "): " << spool::to_string(job.state)
            << " -> " << spool::to_string(retried.state) << "; " << what_happens_next(retried)
            << "; the running daemon picks it up within a second\n";
  return kExitOk;
}

}  // namespace

void register_retry_command(CLI::App& app, CommandRegistry& commands) {
  auto options = std::make_shared<RetryOptions>();
  auto* retry = app.add_subcommand(
      "retry",
      "Try a job again now: a deferred job skips its wait, a held job resumes (for an "
      "ambiguous submit this means submitting again: check fal's dashboard first), a failed "
      "job's inputs come back from error/ and it goes on: delivering the result it already "
      "has, or polling fal for the request it made (never paying twice), or, when nothing was "
      "paid, starting over. The running daemon notices.");
  retry->add_option("ID", options->job_id, "Job id, as `lipsyncd status` shows it")->required();
  add_config_option(*retry, options->config_file);
  commands.add(retry, [options] { return retry_job(*options); });
}

}  // namespace lipsyncd::cli
