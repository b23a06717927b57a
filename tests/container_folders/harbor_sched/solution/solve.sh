#!/bin/bash
# The reference solution: first come, first served.
cat > /app/solution.py << 'PYEOF'
def order(durations):
    return sorted(range(len(durations)), key=lambda i: 0.0 * durations[i] + 1.0 * i)
PYEOF
