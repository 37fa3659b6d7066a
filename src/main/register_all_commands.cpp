#include "commands.hpp"

namespace lipsyncd::cli {

// The order here is the order `lipsyncd --help` lists them in.
void register_all_commands(CLI::App& app, CommandRegistry& commands) {
  register_run_command(app, commands);
  register_status_command(app, commands);
  register_retry_command(app, commands);
  register_cancel_command(app, commands);
  register_check_command(app, commands);
  register_submit_command(app, commands);
  register_version_command(app, commands);
}

}  // namespace lipsyncd::cli
