// Logs, the host's telemetry and pgvault's metrics (docs/architecture.md, "Telemetry"), and the alert on failed
// backup jobs: every failure of a backup job counts once in the `pgvault.job.failures` metric with its error code.
param namePrefix string
param location string
param tags object
@description('Where the failed-backup alert is mailed; empty: the alert fires in the portal only.')
param alertEmail string

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${namePrefix}-logs'
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 90
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${namePrefix}-insights'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
  }
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: '${namePrefix}-backup-alerts'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'pgvault'
    enabled: true
    emailReceivers: [{ name: 'backup-admins', emailAddress: alertEmail, useCommonAlertSchema: true }]
  }
}

// One alert per error code, so the mail names what failed (troubleshooting by code: docs/troubleshooting.md).
resource failedBackups 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-failed-backup-jobs'
  location: location
  tags: tags
  properties: {
    displayName: 'pgvault: backup jobs failed'
    description: 'A pgvault backup job ended Failed. The dimension error_code is the spec error code; see docs/troubleshooting.md.'
    severity: 1
    enabled: true
    scopes: [insights.id]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: 'customMetrics | where name == "pgvault.job.failures" | where tostring(customDimensions["operation"]) == "Backup" | extend error_code = tostring(customDimensions["error.code"]) | summarize failures = sum(valueSum) by error_code'
          timeAggregation: 'Total'
          metricMeasureColumn: 'failures'
          dimensions: [{ name: 'error_code', operator: 'Include', values: ['*'] }]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    // `!`: actionGroup is conditional (typed `| null`, BCP318); this branch only runs when it is deployed.
    actions: { actionGroups: empty(alertEmail) ? [] : [actionGroup!.id] }
  }
}

output connectionString string = insights.properties.ConnectionString
output insightsName string = insights.name
