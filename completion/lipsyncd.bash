# bash completion for lipsyncd(8): commands, options, sync modes, the models of the endpoint
# named on the line (from lipsyncd's endpoint catalog; tests/package checks they agree) and
# job ids from `lipsyncd status --json` (only the jobs `retry` or `cancel` can act on).
# Installed as /usr/share/bash-completion/completions/lipsyncd.

_lipsyncd_commands="run status retry cancel check submit version"
_lipsyncd_sync_modes="cut_off loop bounce silence remap"
_lipsyncd_log_levels="trace debug info warn error"
_lipsyncd_endpoints="fal-ai/sync-lipsync fal-ai/sync-lipsync/v2 fal-ai/sync-lipsync/v3"

# The models an endpoint accepts, its default first; nothing for an endpoint without a model
# field (v3) or one lipsyncd does not know.
_lipsyncd_models_of() {
	case $1 in
		fal-ai/sync-lipsync) echo "lipsync-1.9.0-beta lipsync-1.8.0 lipsync-1.7.1" ;;
		fal-ai/sync-lipsync/v2) echo "lipsync-2 lipsync-2-pro" ;;
	esac
}

# Options of each command (every command also takes -h/--help).
_lipsyncd_options_of() {
	case $1 in
		run) echo "-c --config" ;;
		status) echo "-c --config --json --recent" ;;
		retry | cancel) echo "-c --config" ;;
		check) echo "--json --sync-mode --endpoint --model --config" ;;
		submit) echo "-o --out --model --sync-mode --endpoint --queue-url --rest-url --ca-file --config --no-prepare --log-level" ;;
	esac
}

# Options that take a value (the next word).
_lipsyncd_takes_value() {
	case $1 in
		-c | --config | --recent | --sync-mode | --endpoint | --model | -o | --out | --queue-url | --rest-url | --ca-file | --log-level) return 0 ;;
	esac
	return 1
}

# The value of option $1 given earlier on the line (--opt value or --opt=value), if any.
_lipsyncd_option_value() {
	local i word
	for ((i = 1; i < COMP_CWORD; i++)); do
		word=${COMP_WORDS[i]}
		if [[ $word == "$1" || ($1 == --config && $word == -c) ]]; then
			if [[ ${COMP_WORDS[i + 1]} == "=" ]]; then
				echo "${COMP_WORDS[i + 2]}"
			else
				echo "${COMP_WORDS[i + 1]}"
			fi
			return
		fi
	done
}

# Job ids whose state is one of $1 (a |-separated list), read from `status --json`. The ids and
# states are found by their keys; no JSON tool is needed.
_lipsyncd_job_ids() {
	local states=$1 program=${COMP_WORDS[0]} config json
	config=$(_lipsyncd_option_value --config)
	local -a args=(status --json --recent 100)
	[[ -n $config ]] && args+=(--config "${config/#\~/$HOME}")
	json=$("$program" "${args[@]}" 2>/dev/null) || return
	local id="" line
	while IFS= read -r line; do
		case $line in
			'"id":"'*)
				id=${line#'"id":"'}
				id=${id%'"'}
				;;
			'"state":"'*)
				line=${line#'"state":"'}
				line=${line%'"'}
				[[ -n $id && "|$states|" == *"|$line|"* ]] && echo "$id"
				id=""
				;;
		esac
	done < <(grep -o '"id":"[^"]*"\|"state":"[^"]*"' <<<"$json")
}

_lipsyncd() {
	COMPREPLY=()
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	# --opt=value: bash splits at "=" (COMP_WORDBREAKS), so the option is two words back.
	if [[ $prev == "=" && $COMP_CWORD -ge 2 ]]; then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
	elif [[ $cur == "=" ]]; then
		cur=""
	fi

	local command="" i
	for ((i = 1; i < COMP_CWORD; i++)); do
		case " $_lipsyncd_commands " in
			*" ${COMP_WORDS[i]} "*)
				command=${COMP_WORDS[i]}
				break
				;;
		esac
	done
	if [[ -z $command ]]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "-h --help -V --version" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$_lipsyncd_commands" -- "$cur")
		fi
		return 0
	fi

	case $prev in
		--sync-mode)
			mapfile -t COMPREPLY < <(compgen -W "$_lipsyncd_sync_modes" -- "$cur")
			return 0
			;;
		--endpoint)
			mapfile -t COMPREPLY < <(compgen -W "$_lipsyncd_endpoints" -- "$cur")
			return 0
			;;
		--model)
			local endpoint
			endpoint=$(_lipsyncd_option_value --endpoint)
			[[ -z $endpoint ]] && endpoint=${FAL_VIDEO_TO_VIDEO_LIPSYNC:-fal-ai/sync-lipsync}
			mapfile -t COMPREPLY < <(compgen -W "$(_lipsyncd_models_of "$endpoint")" -- "$cur")
			return 0
			;;
		--log-level)
			mapfile -t COMPREPLY < <(compgen -W "$_lipsyncd_log_levels" -- "$cur")
			return 0
			;;
		--recent | --queue-url | --rest-url)
			return 0
			;;
		-c | --config | -o | --out | --ca-file)
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			return 0
			;;
	esac

	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_lipsyncd_options_of "$command") -h --help" -- "$cur")
		return 0
	fi

	# Positional arguments: the number given so far decides what comes next.
	local positionals=0 word
	for ((i = i + 1; i < COMP_CWORD; i++)); do
		word=${COMP_WORDS[i]}
		if [[ $word == "=" ]]; then
			i=$((i + 1))
		elif [[ $word == -* ]]; then
			if _lipsyncd_takes_value "$word" && [[ ${COMP_WORDS[i + 1]} != "=" ]]; then
				i=$((i + 1))
			fi
		else
			positionals=$((positionals + 1))
		fi
	done
	case $command in
		retry)
			((positionals == 0)) && mapfile -t COMPREPLY < <(compgen -W "$(_lipsyncd_job_ids "deferred|held|failed")" -- "$cur")
			;;
		cancel)
			((positionals == 0)) && mapfile -t COMPREPLY < <(compgen -W "$(_lipsyncd_job_ids "accepted|prepared|uploaded|submitting|submitted|completed|deferred|held")" -- "$cur")
			;;
		check | submit)
			if ((positionals < 2)); then
				compopt -o filenames 2>/dev/null
				mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			fi
			;;
	esac
	return 0
}

complete -F _lipsyncd lipsyncd
