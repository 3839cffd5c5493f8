"""pandas, all at once: read every file, concat, parse timestamps, ``to_parquet`` (the seed's "before")."""

import pandas as pd
from _common import COMPRESSION, TIMESTAMP_COLUMNS, TIMESTAMP_FORMAT, emit, parse_args

args = parse_args(__doc__.splitlines()[0])
df = pd.concat([pd.read_csv(f) for f in args.files], ignore_index=True)
for c in TIMESTAMP_COLUMNS:
    df[c] = pd.to_datetime(df[c], format=TIMESTAMP_FORMAT)
df.to_parquet(args.output, compression=COMPRESSION, index=False)
emit(args, len(df))
