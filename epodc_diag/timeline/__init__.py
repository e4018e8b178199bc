"""`epodc timeline`: one chronology of a data-channel incident, from the logs of every host and
the database's own times, bucketed, with the onset of each abnormal pattern."""
