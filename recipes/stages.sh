# The stage options every recipe's run.sh takes, parsed in one place. A run.sh sets stop_stage (its
# last stage) and the defaults of its own options, defines recipe_option, then sources this file
# with its arguments:
#
#   recipe_option() {  # one of the recipe's own options: set `shifted` to the words it takes
#       case $1 in
#           --corpus) corpus=$2; shifted=2 ;;
#       esac
#   }
#   source "$(dirname "$0")/../stages.sh" "$@"
#
# This gives stage and stop_stage (--stage N, --stop-stage M: run stages N to M) and run_stage N,
# true when stage N is to run. recipe_option runs as a plain command (not in a condition), so
# that `set -e` still stops the recipe when one of its commands fails.
stage=1
while [ $# -gt 0 ]; do
    case $1 in
        --stage) stage=$2; shift 2 ;;
        --stop-stage) stop_stage=$2; shift 2 ;;
        *)
            shifted=0
            if declare -F recipe_option >/dev/null; then recipe_option "$@"; fi
            [ "$shifted" -gt 0 ] || { echo "unknown option $1" >&2; exit 2; }
            shift "$shifted" ;;
    esac
done
run_stage() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }
