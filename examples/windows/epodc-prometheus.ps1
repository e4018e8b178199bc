<#
.SYNOPSIS
  Runs `epodc check` and writes a Prometheus textfile for windows_exporter's textfile collector.

.DESCRIPTION
  epodc writes the file atomically (a temporary file, then a rename), so the exporter never reads
  half a file. The exit code is epodc's: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; the status is also
  in the metric epodc_status.

  Schedule it every five minutes (run once, as an administrator):

    schtasks /Create /TN "epodc data channel check" /SC MINUTE /MO 5 /RU SYSTEM `
      /TR "powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\ProgramData\epodc\epodc-prometheus.ps1"

  or import epodc-task.xml beside this script in Task Scheduler.
#>
param(
    [string]$Epodc = "C:\Program Files\epodc\epodc.exe",
    [string]$TextfileDir = "C:\Program Files\windows_exporter\textfile_inputs",
    [string[]]$ExtraArgs = @()
)

$ErrorActionPreference = "Stop"
if (-not (Test-Path -LiteralPath $TextfileDir)) {
    New-Item -ItemType Directory -Path $TextfileDir | Out-Null
}
$output = Join-Path $TextfileDir "epodc.prom"
& $Epodc check --format prometheus --output $output @ExtraArgs
$code = $LASTEXITCODE
if ($code -eq 3) {
    Write-Warning "epodc could not check the data channel; see $output and run 'epodc check' by hand"
}
exit $code
